import "@fitstream/backend-wasm";
import { selectBackend } from "@fitstream/core";
await selectBackend({ prefer: "wasm", log: null } as never);
const { MODELS } = await import("../src/suites/models.js");
const { trainerContender } = await import("../src/suites/contenders.js");
const { TIMELINE } = await import("../../../packages/backend-wasm/src/internal/gemm/gemm-mat-mul.ts");
const spec = MODELS.find((m) => m.name === (process.argv[2] ?? "mlp"))!;
const c = await trainerContender("f", spec, 96, "wasm");
const rounds: string[] = [];
for (let i = 0; i < 6; i++) rounds.push((await c.round(i)).toFixed(0));
console.log("rounds", rounds.join(" "));
const recent = TIMELINE.slice(-400).filter((t) => t.length === 14);
const byShape = new Map<string, number[][]>();
for (const t of recent) { const key = t.slice(0, 3).join("x"); (byShape.get(key) ?? byShape.set(key, []).get(key)!).push(t); }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [key, ts] of byShape) {
  const rel = (i: number) => med(ts.map((t) => (t[i]! - t[3]!) * 1000)).toFixed(0);
  console.log(key, "n", ts.length, "ownStart", rel(4), "ownDone", rel(5), "computeDone", rel(6), "copied", rel(7), "finish", rel(8), "wClaim", rel(9), "wOpen", rel(10), "wEnd", rel(11), "chunks m/w", med(ts.map((t) => t[12]!)), med(ts.map((t) => t[13]!)));
}
c.dispose();
process.exit(0);
