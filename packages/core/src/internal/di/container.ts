import './reflect.js';
import { container, type DependencyContainer } from 'tsyringe';

export type { DependencyContainer };

/**
 * A fresh child of tsyringe's root container. Every trainer owns one, so two trainers in one process never share
 * registrations or instances.
 */
export function createChildContainer(): DependencyContainer {
  return container.createChildContainer();
}
