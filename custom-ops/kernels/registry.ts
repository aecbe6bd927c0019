/** The built-in kernels, registered once when custom-ops is loaded. A new built-in kernel is one line here. */
import { hydraKernel, linearAngularKernel } from './builtin.js';
import { registerKernel } from './kernel.js';

registerKernel(hydraKernel);
registerKernel(linearAngularKernel);

export { hydraKernel, linearAngularKernel };
export {
  getKernel, hasKernel, kernelForOp, kernelNames, kernels, registerKernel, unregisterKernel,
  type AttentionKernel, type KernelCall, type KernelDims, type KernelOptions, type KernelSite,
} from './kernel.js';
