import { inputError } from '../input-error.js';

/**
 * Checkpoint name templates in the Keras/Python style: `epoch-{epoch:04d}-val_loss-{val_loss:.4f}`.
 *
 * Placeholders: `{name}` or `{name:spec}` with spec `d`, `Nd`, `0Nd` (integers, zero-padded to N), `.Nf` (fixed),
 * `.Ne` (exponent) or `.Ng` (N significant digits). Names are checked when the fit starts against what the trainer
 * reports, so a misspelled metric is an error that lists the available names, not a file called `undefined`.
 */
export interface CompiledTemplate {
  readonly source: string;
  readonly names: readonly string[];
  render(values: Readonly<Record<string, number | undefined>>): string;
}

const PLACEHOLDER = /\{([^{}:]*)(?::([^{}]*))?\}/g;
const SPEC = /^(?:(0?)(\d*)d|\.(\d+)([feg]))$/;

function formatValue(value: number, spec: string | undefined, name: string): string {
  if (!Number.isFinite(value)) return String(value);
  if (spec === undefined || spec === '') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  const m = SPEC.exec(spec)!;
  if (m[4] === undefined) {
    if (!Number.isInteger(value)) throw new Error(`checkpoint name: {${name}:${spec}} formats integers but ${name} is ${value}; use {${name}:.4f}.`);
    // Python pads `{epoch:4d}` with spaces; file names should not hold spaces, so only `0Nd` pads (with zeros).
    const digits = m[1] ? String(Math.abs(value)).padStart(Number(m[2] || 0), '0') : String(Math.abs(value));
    return `${value < 0 ? '-' : ''}${digits}`;
  }
  const n = Number(m[3]);
  if (m[4] === 'f') return value.toFixed(n);
  if (m[4] === 'e') return value.toExponential(n);
  return String(Number(value.toPrecision(Math.max(1, n))));
}

/** Parses a template; a bad spec or path separator is an error here, unknown names in {@link checkTemplateNames}. */
export function compileTemplate(source: string): CompiledTemplate {
  if (typeof source !== 'string' || source.length === 0) throw inputError('filename: the checkpoint name template must be a non-empty string.');
  if (/[/\\]/.test(source)) throw inputError(`filename: the checkpoint name template "${source}" must be a directory name, without / or \\.`);
  const names: string[] = [];
  const outside = source.replace(PLACEHOLDER, (_all, name: string, spec: string | undefined) => {
    if (!/^[A-Za-z_][\w]*$/.test(name)) throw inputError(`filename: the checkpoint name template "${source}": "{${name}}" is not a placeholder name.`);
    if (spec !== undefined && !SPEC.test(spec)) {
      throw inputError(`filename: the checkpoint name template "${source}": format "${spec}" of {${name}} is not one of d, 04d, .4f, .3e, .4g.`);
    }
    names.push(name);
    return '';
  });
  if (/[{}]/.test(outside)) throw inputError(`filename: the checkpoint name template "${source}" has an unbalanced { or }.`);
  return {
    source,
    names,
    render: (values) =>
      source.replace(PLACEHOLDER, (_all, name: string, spec: string | undefined) => {
        const value = values[name];
        if (value === undefined) throw new Error(`checkpoint name "${source}": no value for {${name}} at this checkpoint.`);
        return formatValue(value, spec, name);
      }),
  };
}

/** Fails naming the available placeholders when the template uses a name that will not be there. */
export function checkTemplateNames(template: CompiledTemplate, available: readonly string[], when: string): void {
  const known = new Set(available);
  const unknown = template.names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(
      `modelCheckpoint: the name template "${template.source}" uses ${unknown.map((n) => `{${n}}`).join(', ')}, which ${when} does not provide. Available: ${[...available].map((n) => `{${n}}`).join(', ')}.`,
    );
  }
}
