/**
 * The models of bench/vit.ts: torchvision ViT-B/16 exports (random weights) at one image size, with
 * and without attention, generated on demand into bench/out/ and reused; and their conversions to
 * HydraAttention / LinearAngularAttention, made fresh in memory on every run (the function bodies in
 * custom-ops/ change under us, so a cached conversion could be stale).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertAttention } from '../../graph-rewrite/attention/index.js';
import { loadModel, modelToBytes } from '../../src/model-io.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT_DIR = join(ROOT, 'bench', 'out');
const PYTHON = '/usr/bin/python3'; // Debian's torch/torchvision/onnx, not a pyenv python
const EXPORT_SCRIPT = join(ROOT, 'models', 'scripts', 'export_vit_b16.py');

export const VARIANTS = ['original', 'hydra', 'linear-angular', 'floor'] as const;
export type Variant = (typeof VARIANTS)[number];
export const CONVERTED = ['hydra', 'linear-angular'] as const satisfies readonly Variant[];

/** Tokens of ViT-B/16 at `size` px: one per 16×16 patch, plus the class token. */
export const tokensAt = (size: number): number => (size / 16) ** 2 + 1;

function runChild(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

/** Path of the export at `size`; exports it first unless present (written to a temp name, then renamed). */
export async function ensureExport(size: number, floor: boolean): Promise<string> {
  // The name without suffix matches bench/serde.ts's 224 px export (same script, same defaults, same seed).
  const path = join(OUT_DIR, `vit_b16_${size}${floor ? '_floor' : ''}.onnx`);
  if (existsSync(path)) return path;
  const temporary = `${path}.${process.pid}.tmp`;
  const started = performance.now();
  console.log(`  exporting ViT-B/16 ${size} px${floor ? ' (attention removed)' : ''} → ${path} …`);
  try {
    await runChild(PYTHON, [EXPORT_SCRIPT, temporary, '--image-size', String(size), ...(floor ? ['--no-attention'] : [])]);
    await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
  console.log(`  exported in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return path;
}

/** What a session is created from, or why the variant could not be made. */
export interface PreparedVariant {
  readonly variant: Variant;
  readonly source?: string | Uint8Array;
  /** Conversions: blocks converted / found, and skipped blocks with reasons. */
  readonly conversion?: { converted: number; skipped: string[]; seconds: number };
  readonly error?: string;
}

/** Loads the original export and converts all its blocks; errors are returned, not thrown, so the sweep goes on. */
export async function convertVariant(originalPath: string, variant: 'hydra' | 'linear-angular'): Promise<PreparedVariant> {
  const started = performance.now();
  try {
    const model = await loadModel(originalPath);
    const result = convertAttention(model, { attention: variant, blocks: 'all' });
    const skipped = result.skipped.map(({ block, reason }) => `block ${block.index}: ${reason}`);
    if (result.converted.length === 0) return { variant, error: `no block converted (${skipped.join('; ') || 'no attention blocks found'})` };
    const source = modelToBytes(result.model);
    const seconds = (performance.now() - started) / 1000;
    return { variant, source, conversion: { converted: result.converted.length, skipped, seconds } };
  } catch (error) {
    return { variant, error: `conversion failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}
