/** Builds the error a module throws for a bad option (its own error class, or RangeError). */
export type OptionErrorFactory = (option: string, problem: string) => Error;

/** What a numeric option must be. */
export interface NumberOptionRule {
  /** `positive` (the default) or `non-negative` (0 allowed). */
  readonly min?: 'positive' | 'non-negative';
  /** Only whole numbers. */
  readonly integer?: boolean;
  /** Named in the error: `milliseconds`, `ms`, `bytes`... */
  readonly unit?: string;
  /** The error thrown. Default: a `RangeError` saying `<option> must be ..., got <value>`. */
  readonly error?: OptionErrorFactory;
}

const rangeError: OptionErrorFactory = (option, problem) => new RangeError(`${option} ${problem}`);

/**
 * A numeric option checked once, where a module reads its options: `fallback` when it is not
 * given, the value when it is finite and within `rule`, else the module's error, naming the option
 * and the value. One rule for every module, so that each says the same thing about the same mistake.
 *
 * @example
 * ```ts
 * numberOption('retryDelay', options.retryDelay, 500, { unit: 'milliseconds' });
 * numberOption('maxTxnOps', options.maxTxnOps, 128, { integer: true });
 * // RangeError: maxTxnOps must be a positive integer, got 0
 * ```
 */
export function numberOption(option: string, value: number | undefined, fallback: number, rule: NumberOptionRule = {}): number {
  if (value === undefined) return fallback;
  const zeroOk = rule.min === 'non-negative';
  const integer = rule.integer === true;
  if (typeof value === 'number' && Number.isFinite(value) && (zeroOk ? value >= 0 : value > 0) && (!integer || Number.isInteger(value))) return value;
  const kind = `${zeroOk ? 'a non-negative' : 'a positive'} ${integer ? 'integer' : 'number'}${rule.unit === undefined ? '' : ` of ${rule.unit}`}`;
  throw (rule.error ?? rangeError)(option, `must be ${kind}, got ${String(value)}`);
}
