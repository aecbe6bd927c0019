/**
 * The function bodies on onnxruntime-node's native WebGPU execution provider (float32). Without a GPU
 * this runs on SwiftShader (Vulkan on the CPU): VK_ICD_FILENAMES is pointed at Chromium's SwiftShader
 * ICD when present. Checks outputs against the reference kernels (≤ 1e-4) and, from ORT's verbose
 * log, that every node of the inlined body is placed on the WebGPU EP (none falls back to CPU).
 * float16 is not covered here: SwiftShader has no shader-f16, so Cast to/from f16 cannot compile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeModelProtoToBytes } from '../../graph-rewrite/serde/encode.js';
import type { ModelProto } from '../../graph-rewrite/serde/onnx-schema.js';
import { hydraAttentionReference, linearAngularAttentionReference, type LinearAngularMode } from '../../custom-ops/index.js';
import { buildOpModel, createSession, maxAbsDifference, randomTensor, runOp, seededRandom } from './harness.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (process.env['VK_ICD_FILENAMES'] === undefined && existsSync(SWIFTSHADER_ICD)) {
  // Must be set before the first WebGPU session creates its Vulkan instance.
  process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
}

/** Why WebGPU cannot run here, or undefined when it can. */
async function webGpuUnavailableReason(): Promise<string | undefined> {
  try {
    const session = await createSession(buildOpModel('HydraAttention', { opset: 17, elemType: 'float' }), 'webgpu');
    await session.release();
    return undefined;
  } catch (error) {
    return String(error);
  }
}

const unavailableReason = await webGpuUnavailableReason();
if (unavailableReason !== undefined) console.warn(`WebGPU tests skipped: ${unavailableReason}`);

/** Node-placement lines of ORT's verbose log for a session on the WebGPU EP, from a child process. */
function nodePlacementLog(model: ModelProto): string {
  const folder = mkdtempSync(join(tmpdir(), 'vitlin-webgpu-'));
  const modelPath = join(folder, 'model.onnx');
  try {
    writeFileSync(modelPath, encodeModelProtoToBytes(model));
    const script = [
      "import * as ort from 'onnxruntime-node';",
      `await ort.InferenceSession.create(${JSON.stringify(modelPath)}, { executionProviders: ['webgpu'], logSeverityLevel: 0, logVerbosityLevel: 0 });`,
    ].join('\n');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: process.env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    // ORT logs to stderr; keep stdout too so a failure shows everything.
    return `${child.stdout}${child.stderr}${child.error === undefined ? '' : String(child.error)}`;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe.skipIf(unavailableReason !== undefined)('function bodies on the WebGPU EP (float32)', () => {
  const rows = [
    { opType: 'HydraAttention', opset: 11, mode: undefined, numHeads: undefined },
    { opType: 'HydraAttention', opset: 18, mode: undefined, numHeads: undefined },
    { opType: 'LinearAngularAttention', opset: 13, mode: 'reference', numHeads: 4 },
    { opType: 'LinearAngularAttention', opset: 21, mode: 'reference', numHeads: 2 },
    { opType: 'LinearAngularAttention', opset: 17, mode: 'kernel_normalized', numHeads: 4 },
    { opType: 'LinearAngularAttention', opset: 23, mode: 'kernel_normalized', numHeads: 3 },
  ] as const;

  const modelOf = (row: (typeof rows)[number]): ModelProto =>
    row.opType === 'HydraAttention'
      ? buildOpModel('HydraAttention', { opset: row.opset, elemType: 'float', optionalInputs: ['scale'] })
      : buildOpModel('LinearAngularAttention', {
          opset: row.opset,
          elemType: 'float',
          attributes: { num_heads: row.numHeads, mode: row.mode as LinearAngularMode },
        });

  it.each(rows)('$opType $mode opset $opset matches the reference (≤ 1e-4)', async (row) => {
    const random = seededRandom(600 + row.opset);
    const features = 48;
    const [query, key, value] = [0, 1, 2].map(() => randomTensor([2, 29, features], random)) as [never, never, never];
    const scale = Array.from({ length: features }, (_, index) => 0.5 + (index % 3) * 0.5);
    const session = await createSession(modelOf(row), 'webgpu');
    const actual = await runOp(session, 'float', {
      Q: query,
      K: key,
      V: value,
      ...(row.opType === 'HydraAttention' ? { scale: { data: Float32Array.from(scale), dims: [features] } } : {}),
    });
    const expected =
      row.opType === 'HydraAttention'
        ? hydraAttentionReference(query, key, value, { scale })
        : linearAngularAttentionReference(query, key, value, { numHeads: row.numHeads, mode: row.mode as LinearAngularMode });
    expect(maxAbsDifference(actual, expected)).toBeLessThanOrEqual(1e-4);
    await session.release();
  });

  it.each(rows.filter((_, index) => index % 2 === 0 || index === 5))(
    '$opType $mode opset $opset: every node placed on the WebGPU EP',
    (row) => {
      const log = nodePlacementLog(modelOf(row));
      expect(log).toMatch(/All nodes placed on \[WebGpuExecutionProvider\]/);
      expect(log).not.toMatch(/placed on \[CPUExecutionProvider\]/);
    },
  );
});
