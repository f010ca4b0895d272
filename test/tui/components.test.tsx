import { describe, expect, it } from 'vitest';
import { render } from 'ink-testing-library';
import { useState } from 'react';
import { bar, CapacityGauge, formatDuration, isoDate, personName, ProgressBar, Screen, SelectList, TextField, WIDTH } from '../../src/tui/components.js';
import { tick } from './fake-desk.js';

function widest(frame: string | undefined): number {
  return Math.max(...(frame ?? '').split('\n').map((l) => [...l].length));
}

describe('front-desk components', () => {
  it('a screen says where it is, who is signed in and which keys work, within 80 columns', () => {
    const { lastFrame } = render(
      <Screen title="Burn media · 1 of 6" operator="alice" keys={[{ key: 'Enter', does: 'next' }, { key: 'Esc', does: 'back' }]}>
        {null}
      </Screen>,
    );
    const frame = lastFrame() ?? '';
    expect(frame).toContain('Burn media');
    expect(frame).toContain('signed in: alice');
    expect(frame).toContain('Enter next');
    expect(frame).toContain('Esc back');
    expect(widest(frame)).toBeLessThanOrEqual(WIDTH);
  });

  it('a list moves with the arrows and chooses with Enter', async () => {
    const chosen: string[] = [];
    const { lastFrame, stdin } = render(<SelectList items={[{ label: 'CD', value: 'cd' }, { label: 'DVD', value: 'dvd' }, { label: 'ZIP', value: 'zip', disabled: true }]} onSelect={(v) => chosen.push(v)} />);
    await tick();
    expect(lastFrame()).toMatch(/› CD/);
    stdin.write('\u001b[B');
    await tick();
    expect(lastFrame()).toMatch(/› DVD/);
    stdin.write('\r');
    await tick();
    expect(chosen).toEqual(['dvd']);
    stdin.write('\u001b[B');
    await tick();
    stdin.write('\r');
    await tick();
    expect(chosen).toEqual(['dvd']); // a disabled item is never chosen
    expect(lastFrame()).toContain('(not available)');
  });

  it('a multiple choice list marks with Space and takes the marked with Enter', async () => {
    let taken: number[] = [];
    const { lastFrame, stdin } = render(<SelectList multi items={[{ label: 'CT 2026-01-01', value: 0 }, { label: 'MR 2026-02-02', value: 1 }]} onSubmit={(m) => (taken = [...m])} />);
    await tick();
    stdin.write(' ');
    await tick();
    expect(lastFrame()).toContain('[x] CT');
    expect(lastFrame()).toContain('[ ] MR');
    stdin.write('\r');
    await tick();
    expect(taken).toEqual([0]);
  });

  it('a long list scrolls and says how many more there are', async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ label: `item ${i}`, value: i }));
    const { lastFrame, stdin } = render(<SelectList items={items} rows={5} />);
    await tick();
    expect(lastFrame()).toContain('↓ 25 more');
    for (let i = 0; i < 10; i++) stdin.write('\u001b[B');
    await tick();
    expect(lastFrame()).toContain('› item 10');
    expect(lastFrame()).toMatch(/↑ \d+ more/);
  });

  it('a masked text field never shows what is typed, and control characters never enter it', async () => {
    let submitted = '';
    function Field(): JSX.Element {
      const [v, setV] = useState('');
      return <TextField label="Password" mask value={v} onChange={setV} onSubmit={(x) => (submitted = x)} />;
    }
    const { lastFrame, stdin } = render(<Field />);
    await tick();
    stdin.write('s3cret');
    await tick();
    expect(lastFrame()).not.toContain('s3cret');
    expect(lastFrame()).toContain('••••••');
    stdin.write('\u007f');
    await tick();
    stdin.write('\r');
    await tick();
    expect(submitted).toBe('s3cre');
  });

  it('progress says bytes, rate and time left; the gauge says when it takes more than one disc', () => {
    const { lastFrame } = render(<ProgressBar done={50_000_000} total={100_000_000} startedMs={0} nowMs={10_000} />);
    expect(lastFrame()).toContain(' 50%');
    expect(lastFrame()).toContain('50.0 MB of 100 MB · 5.0 MB/s · 0:10 left');
    const g = render(<CapacityGauge bytes={1_000_000_000} capacity={737_280_000} media={2} />);
    expect(g.lastFrame()).toContain('it takes 2 media');
    expect(g.lastFrame()).toContain('WARNING');
  });

  it('formats names, dates, durations and bars for people', () => {
    expect(personName('DOE^JANE^Q')).toBe('DOE, JANE Q');
    expect(personName('')).toBe('(no name)');
    expect(isoDate('19700101')).toBe('1970-01-01');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(bar(0.5, 10)).toBe('█████░░░░░  50%');
  });
});
