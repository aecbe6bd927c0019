/** Graph analyses the rewrite rules check with: symbolic shapes, constants, the layout algebra. */

export { constantIntsOf, constantNodeTensor, constantScalarOf, constantTensorOf, integerTensorToNumbers } from './constants.js';
export {
  canonicalDim, dimArithmetic, dimsEqual, divideDims, formatShape, isStaticDim, mulDims, productOfDims, resolveDim, resolveShape, type Dim,
} from './dims.js';
export {
  describeHeadView, formatRoles, mergedHeadsOrder, roleLayout, type BlockSizes, type HeadView, type OperandKind, type Role,
} from './head-layout.js';
export { Atom, Layout, LayoutError, cutAtoms } from './layout.js';
export { MAX_FOLDED_ELEMENTS, ShapeInfo, clearInferredTypes, ensureShapes, inferShapes, recordInferred, shapeInferenceRuns, shapesCurrent, type ShapeRule, type ShapeRuleContext, type TensorInfo } from './shape-inference.js';
export { broadcastShapes } from './shape-rules-compute.js';
export { normalizeAxis, slicedLength } from './shape-rules-data.js';
export { evaluateScalar } from './scalar-expression.js';
