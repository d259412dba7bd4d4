/**
 * @fitstream/transfer — transfer learning for fitstream: pretrained models (tfjs layers format, Keras 2 and Keras 3
 * exports), loading weights by name, cutting a backbone and attaching a head, freezing layers by selector, feature
 * extraction with an on-disk cache, and batch-norm statistics after weight averaging.
 *
 * @packageDocumentation
 */
export { loadPretrained, loadWeightsByName, truncateModel, attachHead } from './internal/pretrained.js';
export type { LoadPretrainedOptions, LoadWeightsByNameOptions, LoadWeightsReport } from './internal/pretrained.js';
export { selectLayers, freezeLayers, unfreezeLayers, modelLayers } from './internal/layer-selection.js';
export type { LayerSelector } from './internal/layer-selection.js';
export { updateBatchNormStatistics, batchNormLayers } from './internal/batch-norm.js';
export type { UpdateBatchNormOptions } from './internal/batch-norm.js';
export { extractFeatures } from './internal/extract-features.js';
// The Keras 3 → Keras 2 topology translation on its own (a topology without weights: `fitstream fit --model x.keras`).
export { keras2Topology, isKeras3Topology } from './internal/keras3-topology.js';
export type { ExtractFeaturesOptions, ExtractedFeatures } from './internal/extract-features.js';
