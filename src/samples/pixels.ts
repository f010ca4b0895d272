/**
 * Synthetic pixel data for the samples (native, little endian, PS3.5 §8.1.1): a CT body phantom in
 * Hounsfield units, an MR head phantom and a beating-heart ultrasound loop in RGB. Only integer
 * arithmetic, + - * / and Math.sqrt are used (all exactly rounded in IEEE 754), never sin/cos/exp,
 * whose last bits may differ between engines: the bytes must be the same on every machine.
 */

/** A deterministic hash of three integers to 0..2^32-1 (a few rounds of multiply-xorshift). */
function hash3(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b ^ 0xc2b2ae35, 0x27d4eb2f) ^ Math.imul(c ^ 0x165667b1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Noise in -amplitude..+amplitude, the same for the same (a, b, c). */
function noise(a: number, b: number, c: number, amplitude: number): number {
  return (hash3(a, b, c) % (2 * amplitude + 1)) - amplitude;
}

function inEllipse(x: number, y: number, cx: number, cy: number, ax: number, ay: number): boolean {
  const dx = (x - cx) / ax;
  const dy = (y - cy) / ay;
  return dx * dx + dy * dy <= 1;
}

function inCircle(x: number, y: number, cx: number, cy: number, r: number): boolean {
  return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
}

// ---- CT ----------------------------------------------------------------------------------------

export interface CtGeometry {
  readonly rows: number;
  readonly columns: number;
  /** Row spacing = column spacing, in mm. */
  readonly pixelSpacing: number;
  /** Stored value = HU - intercept (slope 1). */
  readonly rescaleIntercept: number;
  /** Stored value outside the circular reconstruction field of view. */
  readonly pixelPaddingValue: number;
}

/** Patient coordinates (mm) of the centre of pixel (row, column) in an axial slice centred on 0,0. */
export function axialPixelCentre(row: number, column: number, rows: number, columns: number, spacing: number): [number, number] {
  return [(column - (columns - 1) / 2) * spacing, (row - (rows - 1) / 2) * spacing];
}

/**
 * Hounsfield units of the body phantom at (x, y, z) in mm: an elliptical trunk of soft tissue with
 * lungs above z = -20, a liver below z = 0, a spine with marrow, an aorta with contrast, and a
 * 15 mm spherical lesion centred at z = 10, so neighbouring slices differ.
 */
function ctHu(x: number, y: number, z: number): number | undefined {
  if (!inEllipse(x, y, 0, 0, 110, 80)) return undefined; // air
  if (inCircle(x, y, 0, 55, 6)) return 250; // marrow
  if (inCircle(x, y, 0, 55, 12)) return 700; // vertebral body
  if (inCircle(x, y, -15, 35, 10)) return 200; // aorta with contrast
  const dz = z - 10;
  if (dz * dz < 15 * 15 && inCircle(x, y, 35, 0, Math.sqrt(15 * 15 - dz * dz))) return 120; // lesion
  if (z >= -20 && (inEllipse(x, y, -50, -10, 35, 50) || inEllipse(x, y, 50, -10, 35, 50))) return -850; // lungs
  if (z < 0 && inEllipse(x, y, -45, 10, 45, 40)) return 60; // liver
  if (!inEllipse(x, y, 0, 0, 102, 72)) return -100; // subcutaneous fat
  return 40; // soft tissue
}

/** One axial CT slice at height z (mm), signed 16-bit stored values. */
export function ctSlice(g: CtGeometry, sliceIndex: number, z: number): Buffer {
  const out = Buffer.alloc(g.rows * g.columns * 2);
  const fov = (Math.min(g.rows, g.columns) * g.pixelSpacing) / 2;
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.columns; c++) {
      const [x, y] = axialPixelCentre(r, c, g.rows, g.columns, g.pixelSpacing);
      let stored: number;
      if (!inCircle(x, y, 0, 0, fov)) stored = g.pixelPaddingValue;
      else stored = (ctHu(x, y, z) ?? -1000) + noise(sliceIndex, r, c, 8) - g.rescaleIntercept;
      out.writeInt16LE(stored, (r * g.columns + c) * 2);
    }
  }
  return out;
}

// ---- MR ----------------------------------------------------------------------------------------

export interface MrGeometry {
  readonly rows: number;
  readonly columns: number;
  readonly pixelSpacing: number;
  /** Largest stored value: 2^BitsStored - 1. */
  readonly maxValue: number;
}

/** T1-like signal of the head phantom: bright scalp fat, dark skull, grey brain, dark ventricles. */
function mrSignal(x: number, y: number, z: number): number {
  const scale = Math.sqrt(Math.max(0, 1 - (z * z) / (90 * 90))); // a head is roughly an ellipsoid
  if (scale === 0 || !inEllipse(x, y, 0, 0, 80 * scale, 100 * scale)) return 0;
  if (!inEllipse(x, y, 0, 0, 74 * scale, 94 * scale)) return 1100; // scalp fat
  if (!inEllipse(x, y, 0, 0, 68 * scale, 88 * scale)) return 60; // skull
  if (z > -12 && z < 12 && (inEllipse(x, y, -10, -5, 6, 22) || inEllipse(x, y, 10, -5, 6, 22))) return 220; // ventricles
  if (inEllipse(x, y, 0, 0, 40 * scale, 60 * scale)) return 760; // white matter
  return 600; // grey matter
}

/** One axial MR slice at height z (mm), unsigned 16-bit stored values. */
export function mrSlice(g: MrGeometry, sliceIndex: number, z: number): Buffer {
  const out = Buffer.alloc(g.rows * g.columns * 2);
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.columns; c++) {
      const [x, y] = axialPixelCentre(r, c, g.rows, g.columns, g.pixelSpacing);
      const v = mrSignal(x, y, z) + 20 + noise(sliceIndex, r, c, 15);
      out.writeUInt16LE(Math.min(g.maxValue, Math.max(0, v)), (r * g.columns + c) * 2);
    }
  }
  return out;
}

// ---- US ----------------------------------------------------------------------------------------

export interface UsGeometry {
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
}

/** Chamber radius change per frame (pixels): one heartbeat over ten frames. */
const BEAT = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0];

/**
 * All frames of an RGB loop, colour-by-pixel (Planar Configuration 0): a grey sector with speckle,
 * a chamber whose wall moves with the beat, and a colour Doppler jet inside it, red while the
 * chamber fills and blue while it empties.
 */
export function usFrames(g: UsGeometry): Buffer {
  const frameSize = g.rows * g.columns * 3;
  const out = Buffer.alloc(frameSize * g.frames);
  const apex = (g.columns - 1) / 2;
  const cy = (g.rows * 11) / 20;
  for (let f = 0; f < g.frames; f++) {
    const beat = BEAT[f % BEAT.length] ?? 0;
    const radius = g.rows / 5 + 2 - beat;
    const filling = f % BEAT.length < BEAT.length / 2;
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.columns; c++) {
        const dx = c - apex;
        const i = f * frameSize + (r * g.columns + c) * 3;
        const inSector = r >= 2 && r < g.rows - 1 && Math.abs(dx) * 5 <= r * 4;
        if (!inSector) continue; // black outside the sector
        const d2 = dx * dx + (r - cy) * (r - cy);
        let grey: number;
        if (d2 <= radius * radius) grey = 8 + (hash3(f, r, c) % 12); // blood
        else if (d2 <= (radius + 2) * (radius + 2)) grey = 190 + (hash3(f, r, c) % 50); // wall
        else grey = 40 + (hash3(f, r, c) % 70) - Math.floor(r / 2); // tissue, attenuated with depth
        let [red, green, blue] = [grey, grey, grey];
        if (Math.abs(dx) <= 3 && r >= cy - radius + 2 && r <= cy + 1) {
          const speed = 120 + 20 * (3 - Math.abs(dx)) + (hash3(r, c, f) % 40);
          [red, green, blue] = filling ? [speed, 16, 16] : [16, 16, speed];
        }
        out[i] = red;
        out[i + 1] = green;
        out[i + 2] = blue;
      }
    }
  }
  return out;
}
