/**
 * The WebGPU environment: SwiftShader chosen when there is no GPU, and a private XDG_RUNTIME_DIR for any
 * Vulkan driver when none is set, so a WebGPU run prints nothing of its own on stderr.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareWebGpuEnvironment, SWIFTSHADER_ICD } from '../../src/runtime/webgpu-env.js';
import { BUILD_TIMEOUT_MS, MODELS, ensureBuilt, vitlin } from '../cli/helpers.js';

beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

describe('prepareWebGpuEnvironment', () => {
  it('gives a user-chosen Vulkan driver a private runtime folder when XDG_RUNTIME_DIR is unset', () => {
    const env: NodeJS.ProcessEnv = { VK_ICD_FILENAMES: '/somewhere/icd.json' };
    const chosen = prepareWebGpuEnvironment(env);
    expect(chosen).toMatchObject({ driver: 'system', icd: '/somewhere/icd.json' });
    expect(env.XDG_RUNTIME_DIR).toBe(chosen.runtimeDir);
    expect(statSync(env.XDG_RUNTIME_DIR!).isDirectory()).toBe(true);
    expect(statSync(env.XDG_RUNTIME_DIR!).mode & 0o777).toBe(0o700);
  });

  it('leaves a set XDG_RUNTIME_DIR alone', () => {
    const env: NodeJS.ProcessEnv = { VK_ICD_FILENAMES: '/somewhere/icd.json', XDG_RUNTIME_DIR: '/run/user/4242' };
    expect(prepareWebGpuEnvironment(env).runtimeDir).toBeUndefined();
    expect(env.XDG_RUNTIME_DIR).toBe('/run/user/4242');
  });

  it.runIf(existsSync(SWIFTSHADER_ICD))('a WebGPU run with a user-chosen driver prints nothing on stderr', async () => {
    // The user (or CI) chose the ICD: the case the private runtime folder used to skip.
    const model = join(MODELS, 'timm_vit.onnx');
    const r = await vitlin(['verify', model, model, '--ep', 'webgpu', '--count', '1'], { env: { XDG_RUNTIME_DIR: undefined, VK_ICD_FILENAMES: SWIFTSHADER_ICD } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  }, 120_000);
});
