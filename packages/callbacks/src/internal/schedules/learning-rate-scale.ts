import { token } from '@fitstream/core';

/**
 * A factor that schedules multiply their rate by. The loss-spike guard registers one and lowers it on a rollback, so
 * that "lower the learning rate" survives a schedule that recomputes the rate every step.
 */
export interface LearningRateScale {
  readonly name: string;
  readonly factor: number;
}
export const LearningRateScale = token<LearningRateScale>('@fitstream/callbacks/LearningRateScale');
