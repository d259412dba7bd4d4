// The core spells this package's option and report types itself (it does not import the package): they must stay equal.
import type * as tfjs from '@tensorflow/tfjs';
import type { BackendSelection, InstalledWasmKernels, SelectBackendOptions, WasmKernelGroups, WasmKernelsModule } from '@fitstream/core';
import { expectTypeOf, test } from 'vitest';
import * as wasmKernels from './index.js';
import { installCpuKernels, installWasmKernels, type CpuKernelReport, type WasmKernelOptions, type WasmKernelReport } from './index.js';

test("the core's seam types equal this package's", () => {
  expectTypeOf<WasmKernelGroups>().toEqualTypeOf<WasmKernelOptions>();
  expectTypeOf<InstalledWasmKernels>().toEqualTypeOf<WasmKernelReport>();
  expectTypeOf<Exclude<NonNullable<SelectBackendOptions['wasmKernels']>, boolean>>().toEqualTypeOf<WasmKernelOptions>();
  expectTypeOf<NonNullable<BackendSelection['wasmKernels']>>().toEqualTypeOf<WasmKernelReport>();
  // What selectBackend calls: installWasmKernels(tf, groups) → the report.
  expectTypeOf(installWasmKernels).toBeCallableWith({} as typeof tfjs, {} as WasmKernelGroups);
  expectTypeOf(installWasmKernels).returns.toEqualTypeOf<InstalledWasmKernels>();
  // On cpu: installCpuKernels(tf) → the report the selection carries as cpuKernels.
  expectTypeOf(installCpuKernels).toBeCallableWith({} as typeof tfjs);
  expectTypeOf<NonNullable<BackendSelection['cpuKernels']>>().toEqualTypeOf<CpuKernelReport>();
  // The module itself is what a page passes as selectBackend({ wasmKernelsModule }).
  expectTypeOf(wasmKernels).toExtend<WasmKernelsModule>();
});
