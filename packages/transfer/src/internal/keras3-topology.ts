import { FitstreamInputError } from '@fitstream/util';

/*
 * tfjs-layers 4.22 reads the Keras 2 topology format. `tensorflowjs_converter` run under Keras 3 (the default Keras of
 * TensorFlow ≥ 2.16) writes Keras 3's, which `tf.loadLayersModel` refuses ("An InputLayer should be passed either a
 * `batchInputShape` or an `inputShape`", tensorflow/tfjs#8328 and #8494; the advice there is to re-export with
 * TF_USE_LEGACY_KERAS=1). No library translates it, so this does, by hand and only for what differs:
 * - `InputLayer`: `batch_shape` instead of `batch_input_shape` (and a new `optional` flag);
 * - dtypes as `DTypePolicy` objects instead of strings;
 * - functional `inbound_nodes` as `{ args: [KerasTensor…], kwargs }` calls instead of `[layer, node, tensor, kwargs]`
 *   lists, and a single model input/output written as one `[layer, node, tensor]` triple;
 * - weight names prefixed with the model's name (`sequential/dense/kernel`), matched here to the layers' own;
 * - renamed layer arguments (LeakyReLU's `negative_slope`, which tfjs would replace by its own default).
 * Arguments tfjs does not implement (grouped convolutions, LoRA, `keepdims` pooling, a leaky or thresholded ReLU layer)
 * are refused by name instead of being silently ignored.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a layers topology was written by Keras 3 (its version, or any of the Keras 3 forms above).
 *
 * @example
 * ```ts
 * if (isKeras3Topology(json.modelTopology)) topology = keras2Topology(json.modelTopology);
 * ```
 */
export function isKeras3Topology(topology: unknown): boolean {
  if (!isObject(topology as Json)) return false;
  const version = (topology as JsonObject)['keras_version'];
  if (typeof version === 'string') return /^3\./.test(version);
  const text = JSON.stringify(topology);
  return text.includes('"batch_shape"') || text.includes('"__keras_tensor__"') || text.includes('"DTypePolicy"');
}

/**
 * The dtype tfjs computes in for a Keras 3 dtype policy: its variable dtype. Mixed-precision policies keep float32
 * variables in Keras, and tfjs layers compute in float32, so every float policy reads as `float32`.
 */
function policyDtype(policy: JsonObject, where: string): string {
  const config = policy['config'];
  const name = isObject(config) ? config['name'] : undefined;
  if (typeof name !== 'string') throw new FitstreamInputError('path', `${where}: a DTypePolicy without a name (${JSON.stringify(policy)}).`);
  return /float/.test(name) ? 'float32' : name;
}

const isPolicy = (v: Json | undefined): v is JsonObject =>
  isObject(v) && typeof v['class_name'] === 'string' && /DTypePolicy$/.test(v['class_name']) && isObject(v['config']);

const isKerasTensor = (v: Json | undefined): v is JsonObject => isObject(v) && v['class_name'] === '__keras_tensor__';

/** `[layer, node, tensor]` of a Keras 3 KerasTensor. */
function history(tensor: JsonObject, where: string): [string, number, number] {
  const config = tensor['config'];
  const h = isObject(config) ? config['keras_history'] : undefined;
  if (!Array.isArray(h) || typeof h[0] !== 'string' || typeof h[1] !== 'number' || typeof h[2] !== 'number') {
    throw new FitstreamInputError('path', `${where}: a KerasTensor without keras_history [layer, node, tensor] (${JSON.stringify(tensor)}).`);
  }
  return [h[0], h[1], h[2]];
}

/** Every KerasTensor of a call's positional arguments, in order (a merge layer gets one list of them). */
function tensorsOf(args: Json, where: string): JsonObject[] {
  if (isKerasTensor(args)) return [args];
  if (Array.isArray(args)) return args.flatMap((a) => tensorsOf(a, where));
  throw new FitstreamInputError(
    'path',
    `${where}: the layer is called with a non-tensor argument (${JSON.stringify(args)}), which the tfjs layers format cannot express; re-export the model with TF_USE_LEGACY_KERAS=1.`,
  );
}

/** One Keras 3 call `{ args, kwargs }` as the Keras 2 node `[[layer, node, tensor, kwargs], …]`. */
function inboundNode(node: JsonObject, layer: string): Json[] {
  const where = `layer "${layer}"`;
  const kwargs = node['kwargs'] ?? {};
  if (!isObject(kwargs) || JSON.stringify(kwargs).includes('"__keras_tensor__"')) {
    throw new FitstreamInputError(
      'path',
      `${where}: a call with tensor keyword arguments (${Object.keys(isObject(kwargs) ? kwargs : {}).join(', ')}), which the tfjs layers format cannot express; re-export the model with TF_USE_LEGACY_KERAS=1.`,
    );
  }
  return tensorsOf(node['args'] ?? [], where).map((t) => [...history(t, where), kwargs]);
}

/** Keras 3 layer arguments under a new name: tfjs reads the Keras 2 one (and would silently use its own default). */
const RENAMED_ARGUMENTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // Keras 3 writes `negative_slope` (default 0.2); tfjs reads `alpha` and defaults to Keras 2's 0.3.
  LeakyReLU: { negative_slope: 'alpha' },
};

/** Keras arguments tfjs-layers does not implement, with the values that mean "not used" (anything else is refused). */
const UNSUPPORTED_ARGUMENTS: ReadonlyArray<{ readonly key: string; readonly unused: (v: Json | undefined) => boolean; readonly layers?: readonly string[] }> = [
  { key: 'groups', unused: (v) => v === undefined || v === null || v === 1 },
  { key: 'lora_rank', unused: (v) => v === undefined || v === null },
  { key: 'keepdims', unused: (v) => v === undefined || v === null || v === false },
  { key: 'negative_slope', unused: (v) => v === undefined || v === null || v === 0, layers: ['ReLU'] },
  { key: 'threshold', unused: (v) => v === undefined || v === null || v === 0, layers: ['ReLU'] },
];

function refuseUnsupportedArguments(className: string, config: JsonObject, layer: string): void {
  for (const { key, unused, layers } of UNSUPPORTED_ARGUMENTS) {
    if ((layers === undefined || layers.includes(className)) && !unused(config[key])) {
      throw new FitstreamInputError(
        'path',
        `layer "${layer}" (${className}) sets ${key} = ${JSON.stringify(config[key])}, which tfjs-layers does not implement (it would ignore it and compute something else); this model cannot be loaded into tfjs as it is.`,
      );
    }
  }
}

/** A layer's config with Keras 3 argument names mapped to tfjs', refusing arguments tfjs would silently ignore. */
function layerArguments(className: string, config: JsonObject, layer: string): JsonObject {
  const out = { ...config };
  for (const [from, to] of Object.entries(RENAMED_ARGUMENTS[className] ?? {})) {
    if (out[from] !== undefined && out[to] === undefined) out[to] = out[from]!;
    delete out[from];
  }
  refuseUnsupportedArguments(className, out, layer);
  return out;
}

/**
 * Refuses a Keras 2 topology (which tfjs reads as is) that sets an argument tfjs-layers ignores — a grouped
 * convolution, a leaky or thresholded `ReLU` layer…: tfjs would load it and compute something else.
 */
export function assertSupportedArguments(topology: object): void {
  const visit = (value: Json, layer: string | undefined): void => {
    if (Array.isArray(value)) return value.forEach((v) => visit(v, layer));
    if (!isObject(value)) return;
    const config = value['config'];
    const name = isObject(config) && typeof config['name'] === 'string' ? config['name'] : layer;
    if (typeof value['class_name'] === 'string' && isObject(config)) refuseUnsupportedArguments(value['class_name'], config, name ?? '?');
    for (const v of Object.values(value)) visit(v, name);
  };
  visit(topology as Json, undefined);
}

/** `[layer, node, tensor]` → `[[layer, node, tensor]]`: Keras 3 writes a single input or output unwrapped. */
function endpoints(v: Json | undefined): Json | undefined {
  return Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
}

function translate(value: Json, layerName: string | undefined): Json {
  if (Array.isArray(value)) return value.map((v) => translate(v, layerName));
  if (!isObject(value)) return value;
  if (isPolicy(value)) return policyDtype(value, layerName ? `layer "${layerName}"` : 'the model');
  const className = value['class_name'];
  const config = value['config'];
  const name = isObject(config) && typeof config['name'] === 'string' ? config['name'] : (layerName ?? undefined);
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value) as Array<[string, Json]>) {
    if (key === 'inbound_nodes' && Array.isArray(v) && v.some(isObject)) {
      out[key] = v.map((node) => (isObject(node) ? inboundNode(node, name ?? '?') : translate(node, name)));
    } else if ((key === 'input_layers' || key === 'output_layers') && Array.isArray(v)) {
      out[key] = endpoints(v) ?? v;
    } else {
      out[key] = translate(v, name);
    }
  }
  if (typeof className === 'string' && isObject(out['config'])) out['config'] = layerArguments(className, out['config'], name ?? '?');
  if (className === 'InputLayer' && isObject(out['config'])) {
    const c = { ...out['config'] };
    if (c['batch_shape'] !== undefined && c['batch_input_shape'] === undefined) c['batch_input_shape'] = c['batch_shape'];
    delete c['batch_shape'];
    delete c['optional'];
    out['config'] = c;
  }
  return out;
}

/**
 * A Keras 3 layers topology (`model.json`'s `modelTopology`, or `{ keras_version, model_config }` around the
 * `config.json` of a `.keras` archive) in the Keras 2 form tfjs-layers reads; the input is left as is. Arguments tfjs
 * would ignore are refused with a {@link FitstreamInputError} naming the layer. Builds no model: pass the result to
 * `tf.models.modelFromJSON({ modelTopology })` for fresh weights (what `fitstream fit --model model.keras` does).
 *
 * @example
 * ```ts
 * const model = await tf.models.modelFromJSON({ modelTopology: keras2Topology({ keras_version: '3.10.0', model_config: config }) });
 * ```
 */
export function keras2Topology(topology: object): object {
  const out = translate(topology as Json, undefined) as JsonObject;
  // The trainer brings its own optimizer and loss; a Keras 3 training config (new optimizer keys) is not read.
  delete out['training_config'];
  return out;
}

/**
 * Maps the weight names of a Keras 3 manifest to the model's own (`originalName`s): a name the model has is kept; one
 * it does not have is matched by its longest suffix of path components the model has (`sequential/dense/kernel` →
 * `dense/kernel`), each model weight used once. Names that match nothing are left for tfjs' own error.
 */
export function matchWeightNames(manifestNames: readonly string[], modelNames: readonly string[]): Map<string, string> {
  const available = new Set(modelNames);
  const taken = new Set(manifestNames.filter((n) => available.has(n)));
  const renamed = new Map<string, string>();
  for (const name of manifestNames) {
    if (available.has(name)) continue;
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const candidate = parts.slice(i).join('/');
      if (available.has(candidate) && !taken.has(candidate)) {
        renamed.set(name, candidate);
        taken.add(candidate);
        break;
      }
    }
  }
  return renamed;
}
