// Checks every model of models/manifest.json in onnxruntime-node against its recorded PyTorch output and, with
// --accuracy, measures the trained models on the committed Fashion-MNIST sample and writes models/accuracy.json.
// make_all.py runs it as its last step:  node models/scripts/ort_check.mjs [--accuracy] [--manifest PATH]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const args = process.argv.slice(2);
const manifestPath = args.includes('--manifest') ? args[args.indexOf('--manifest') + 1] : path.join(MODELS, 'manifest.json');
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));

// float <-> IEEE half bits (round to nearest even)
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalfBits(v) {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  let exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function toTensor(t) {
  if (t.dtype === 'float32') return new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
  if (t.dtype === 'float16') return new ort.Tensor('float16', Uint16Array.from(t.data, toHalfBits), t.shape);
  if (t.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), t.shape);
  throw new Error(`dtype ${t.dtype}`);
}
function values(tensor) {
  if (tensor.type === 'float16' && tensor.data instanceof Uint16Array) return Array.from(tensor.data, halfToFloat);
  return Array.from(tensor.data, Number);
}

let failed = 0;
for (const m of manifest.models) {
  const ref = JSON.parse(fs.readFileSync(path.join(MODELS, m.reference), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(MODELS, m.file));
  const feeds = Object.fromEntries(ref.inputs.map((t) => [t.name, toTensor(t)]));
  const out = await session.run(feeds);
  let worst = 0;
  for (const r of ref.outputs) {
    const got = values(out[r.name]);
    const dims = out[r.name].dims.map(Number);
    if (JSON.stringify(dims) !== JSON.stringify(r.shape)) throw new Error(`${m.name}: ${r.name} has shape ${dims}, want ${r.shape}`);
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - r.data[i]) / (1 + Math.abs(r.data[i])));
  }
  const ok = worst <= m.tolerance;
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${m.name.padEnd(28)} max |ort - torch| / (1 + |torch|) = ${worst.toExponential(2)} (tol ${m.tolerance})`);
  await session.release();
}

if (args.includes('--accuracy')) {
  const buf = fs.readFileSync(path.join(MODELS, manifest.sample.file));
  const hlen = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8'));
  const { count, height, width, pixelOffset, labelOffset } = header;
  const { mean, std } = header.normalization;
  const px = buf.subarray(pixelOffset, pixelOffset + count * height * width);
  const labels = buf.subarray(labelOffset, labelOffset + count);
  const result = { sample: manifest.sample.file, count, runtime: `onnxruntime-node ${ort.env.versions?.node ?? ''}`, models: {} };
  for (const m of manifest.models.filter((e) => e.trained)) {
    const session = await ort.InferenceSession.create(path.join(MODELS, m.file));
    let correct = 0;
    const B = 100;
    for (let s = 0; s < count; s += B) {
      const n = Math.min(B, count - s);
      const x = new Float32Array(n * height * width);
      for (let i = 0; i < x.length; i++) x[i] = (px[s * height * width + i] / 255 - mean) / std;
      const out = await session.run({ [m.inputs[0].name]: new ort.Tensor('float32', x, [n, 1, height, width]) });
      const logits = out[m.outputs[0].name].data;
      const C = logits.length / n;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
        if (best === labels[s + i]) correct++;
      }
    }
    result.models[m.name] = { correct, total: count, accuracy: Math.round((10000 * correct) / count) / 100 };
    console.log(`acc  ${m.name.padEnd(28)} ${correct}/${count}`);
    await session.release();
  }
  fs.writeFileSync(path.join(MODELS, 'accuracy.json'), JSON.stringify(result, null, 2) + '\n');
}
if (failed) {
  console.error(`${failed} model(s) do not match their reference`);
  process.exit(1);
}
