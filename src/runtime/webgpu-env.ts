/**
 * onnxruntime-node's WebGPU EP (Dawn) needs a Vulkan driver. On machines without a GPU, Debian's
 * `chromium` package ships SwiftShader's software Vulkan ICD, which Dawn accepts (Mesa's lavapipe in
 * Debian 12 is too old). This proves correctness, not GPU speed.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface WebGpuEnvironment {
  /** 'system' when a Vulkan ICD was already chosen or a GPU render node exists; 'swiftshader' when we chose it. */
  readonly driver: 'system' | 'swiftshader' | 'none';
  readonly icd?: string;
  /** The private XDG_RUNTIME_DIR made for SwiftShader when none was set. */
  readonly runtimeDir?: string;
}

function hasRenderNode(): boolean {
  try {
    return readdirSync('/dev/dri').some((entry) => entry.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * A private runtime folder (0700, under the temp folder, removed when the process exits): SwiftShader
 * prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` on stderr without one.
 */
function privateRuntimeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vitlin-xdg-runtime-'));
  chmodSync(dir, 0o700);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Which Vulkan driver Dawn will use; sets VK_ICD_FILENAMES to SwiftShader when nothing else is configured and no GPU is present. */
function chooseDriver(env: NodeJS.ProcessEnv): WebGpuEnvironment {
  if (env.VK_ICD_FILENAMES) return { driver: 'system', icd: env.VK_ICD_FILENAMES };
  if (hasRenderNode()) return { driver: 'system' };
  if (!existsSync(SWIFTSHADER_ICD)) return { driver: 'none' };
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return { driver: 'swiftshader', icd: SWIFTSHADER_ICD };
}

/**
 * Points Dawn at SwiftShader when nothing else is configured and no GPU is present, and gives any Vulkan
 * driver a private XDG_RUNTIME_DIR when none is set — also when the user chose the ICD
 * (VK_ICD_FILENAMES), the case CI and the docs use. Must run before the first WebGPU session is
 * created: the Vulkan loader reads the variables once.
 */
export function prepareWebGpuEnvironment(env: NodeJS.ProcessEnv = process.env): WebGpuEnvironment {
  const chosen = chooseDriver(env);
  if (chosen.driver === 'none' || (env.XDG_RUNTIME_DIR ?? '') !== '') return chosen;
  const runtimeDir = privateRuntimeDir();
  env.XDG_RUNTIME_DIR = runtimeDir;
  return { ...chosen, runtimeDir };
}
