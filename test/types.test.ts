/**
 * Typed results: a Dataset infers its args and result types from the function. These assertions
 * are checked by the type checker (`npm test` runs `tsc --noEmit` over the tests); at run time they
 * only need to load, so the Datasets are never constructed.
 */
import { describe, expectTypeOf, it } from "vitest";
import { Dataset, type Runner, type RunnerFailedError } from "../src/index.js";

describe("typed Datasets", () => {
  it("infer args and results from the function, sync or async", () => {
    const sync = (args: { a: number; b: string }) => ({ sum: args.a, label: args.b });
    const later = async (args: { n: bigint }) => [args.n];
    const makeSync = () => new Dataset(sync, { skip: false });
    const makeAsync = () => new Dataset(later);
    type SyncDs = ReturnType<typeof makeSync>;
    expectTypeOf<SyncDs>().toEqualTypeOf<Dataset<{ a: number; b: string }, { sum: number; label: string }>>();
    expectTypeOf<ReturnType<typeof makeAsync>>().toEqualTypeOf<Dataset<{ n: bigint }, bigint[]>>();
    expectTypeOf<SyncDs["results"]>().toEqualTypeOf<
      ({ sum: number; label: string } | RunnerFailedError | undefined)[]
    >();
    expectTypeOf<SyncDs["runners"]>().toEqualTypeOf<
      readonly Runner<{ a: number; b: string }, { sum: number; label: string }>[]
    >();
  });

  it("reject args of the wrong shape at compile time", () => {
    const check = (ds: Dataset<{ a: number }, number>) => {
      // @ts-expect-error: `a` must be a number
      ds.appendRun({ a: "one" });
      // @ts-expect-error: unknown key
      ds.appendRun({ b: 1 });
    };
    expectTypeOf(check).toBeFunction();
  });
});
