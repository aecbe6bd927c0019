/**
 * onnxruntime-node's WebGPU EP (Dawn) needs a Vulkan driver. On machines without a GPU, Debian's
 * `chromium` package ships SwiftShader's software Vulkan ICD, which Dawn accepts (Mesa's lavapipe in
 * Debian 12 is too old). This proves correctness, not GPU speed.
 */
import { existsSync, readdirSync } from 'node:fs';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface WebGpuEnvironment {
  /** 'system' when a Vulkan ICD was already chosen or a GPU render node exists; 'swiftshader' when we chose it. */
  readonly driver: 'system' | 'swiftshader' | 'none';
  readonly icd?: string;
}

function hasRenderNode(): boolean {
  try {
    return readdirSync('/dev/dri').some((entry) => entry.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * Points Dawn at SwiftShader when nothing else is configured and no GPU is present. Must run before the
 * first WebGPU session is created: the Vulkan loader reads the variable once.
 */
export function prepareWebGpuEnvironment(env: NodeJS.ProcessEnv = process.env): WebGpuEnvironment {
  if (env.VK_ICD_FILENAMES) return { driver: 'system', icd: env.VK_ICD_FILENAMES };
  if (hasRenderNode()) return { driver: 'system' };
  if (!existsSync(SWIFTSHADER_ICD)) return { driver: 'none' };
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return { driver: 'swiftshader', icd: SWIFTSHADER_ICD };
}
