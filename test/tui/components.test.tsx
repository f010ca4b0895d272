import { describe, expect, it } from 'vitest';
import { useState, type ReactNode } from 'react';
import { bar, CapacityGauge, formatDuration, isoDate, personName, ProgressBar, Screen, SelectList, TextField } from '../../src/tui/components.js';
import { BACKSPACE, DOWN, ENTER, drive } from './drive.js';

describe('front-desk components', () => {
  it('a screen says where it is, who is signed in and which keys work, within 80 columns', () => {
    const s = drive(
      <Screen title="Burn media · 1 of 6" operator="alice" keys={[{ key: 'Enter', does: 'next' }, { key: 'Esc', does: 'back' }]}>
        {null}
      </Screen>,
    );
    const frame = s.frame(); // every line within 80 columns
    expect(frame).toContain('Burn media');
    expect(frame).toContain('signed in: alice');
    expect(frame).toContain('Enter next');
    expect(frame).toContain('Esc back');
  });

  it('a list moves with the arrows and chooses with Enter', async () => {
    const chosen: string[] = [];
    const s = drive(<SelectList items={[{ label: 'CD', value: 'cd' }, { label: 'DVD', value: 'dvd' }, { label: 'ZIP', value: 'zip', disabled: true }]} onSelect={(v) => chosen.push(v)} />, { screen: false });
    await s.settle();
    expect(s.lastFrame()).toMatch(/› CD/);
    await s.press(DOWN);
    expect(s.lastFrame()).toMatch(/› DVD/);
    await s.press(ENTER);
    expect(chosen).toEqual(['dvd']);
    await s.press(DOWN, ENTER);
    expect(chosen).toEqual(['dvd']); // a disabled item is never chosen
    expect(s.lastFrame()).toContain('(not available)');
  });

  it('a multiple choice list marks with Space and takes the marked with Enter', async () => {
    let taken: number[] = [];
    const s = drive(<SelectList multi items={[{ label: 'CT 2026-01-01', value: 0 }, { label: 'MR 2026-02-02', value: 1 }]} onSubmit={(m) => (taken = [...m])} />, { screen: false });
    await s.settle();
    await s.press(' ');
    expect(s.lastFrame()).toContain('[x] CT');
    expect(s.lastFrame()).toContain('[ ] MR');
    await s.press(ENTER);
    expect(taken).toEqual([0]);
  });

  it('a long list scrolls and says how many more there are', async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ label: `item ${i}`, value: i }));
    const s = drive(<SelectList items={items} rows={5} />, { screen: false });
    await s.settle();
    expect(s.lastFrame()).toContain('↓ 25 more');
    for (let i = 0; i < 10; i++) await s.press(DOWN);
    expect(s.lastFrame()).toContain('› item 10');
    expect(s.lastFrame()).toMatch(/↑ \d+ more/);
  });

  it('a masked text field never shows what is typed, and control characters never enter it', async () => {
    let submitted = '';
    function Field(): ReactNode {
      const [v, setV] = useState('');
      return <TextField label="Password" mask value={v} onChange={setV} onSubmit={(x) => (submitted = x)} />;
    }
    const s = drive(<Field />, { screen: false });
    await s.settle();
    await s.type('s3cret');
    expect(s.lastFrame()).not.toContain('s3cret');
    expect(s.lastFrame()).toContain('••••••');
    await s.press(BACKSPACE, ENTER);
    expect(submitted).toBe('s3cre');
  });

  it('progress says bytes, rate and time left; the gauge says when it takes more than one disc', () => {
    const p = drive(<ProgressBar done={50_000_000} total={100_000_000} startedMs={0} nowMs={10_000} />, { screen: false });
    expect(p.lastFrame()).toContain(' 50%');
    expect(p.lastFrame()).toContain('50.0 MB of 100 MB · 5.0 MB/s · 0:10 left');
    const g = drive(<CapacityGauge bytes={1_000_000_000} capacity={737_280_000} media={2} />, { screen: false });
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
