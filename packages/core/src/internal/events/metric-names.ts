/** Names of the loss and the metrics a trainer reports: `'loss'` plus the metric names it was created with. */
export type TrainName<M extends string> = 'loss' | M;

/** Validation names: each train name prefixed with `val_`, as in Keras logs. */
export type ValidationName<M extends string> = `val_${TrainName<M>}`;

/** Any name that can appear in epoch logs. */
export type LogName<M extends string> = TrainName<M> | ValidationName<M>;

/** Epoch logs: train values always, validation values when validation ran this epoch. Plain numbers, never tensors. */
export type EpochLogs<M extends string = string> = Readonly<Record<TrainName<M>, number>> &
  Readonly<Partial<Record<ValidationName<M>, number>>>;

/** Validation logs: `val_`-prefixed numbers. */
export type ValidationLogs<M extends string = string> = Readonly<Record<ValidationName<M>, number>>;
