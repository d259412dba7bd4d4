import "@fitstream/backend-wasm";
import { selectBackend } from "@fitstream/core";
await selectBackend({ prefer: "wasm", log: null } as never);
const { MODELS } = await import("../src/suites/models.js");
const { profileSteps } = await import("../src/suites/step-profile.js");
const { gemmMatMulSettled } = await import("@fitstream/backend-wasm") as never as { gemmMatMulSettled?: () => Promise<unknown> };
const names = (process.argv[2] ?? "mlp").split(",");
for (const name of names) {
  const spec = MODELS.find((m) => m.name === name)!;
  for (let i = 0; i < 2; i++) {
    const p = await profileSteps(spec, 200);
    console.log(name, "step", p.stepMs.toFixed(3), "kernel", p.kernelMs.toFixed(3), "outside", (p.outsideShare*100).toFixed(1)+"%", "disp", p.dispatches);
    if (i === 1) for (const k of p.byKernel.slice(0, 20)) console.log("  ", k.name.padEnd(28), k.calls.toFixed(1), k.ms.toFixed(3));
  }
}
