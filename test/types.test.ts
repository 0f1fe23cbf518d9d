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

  it("accept interfaces as args, as well as type aliases", () => {
    interface Params {
      a: number;
      label?: string;
    }
    const f = (p: Params) => ({ twice: p.a * 2 });
    const later = async (p: Params): Promise<string> => p.label ?? "";
    const make = () => new Dataset(f);
    const makeLater = () => new Dataset(later);
    expectTypeOf<ReturnType<typeof make>>().toEqualTypeOf<Dataset<Params, { twice: number }>>();
    expectTypeOf<ReturnType<typeof makeLater>>().toEqualTypeOf<Dataset<Params, string>>();
    expectTypeOf<ReturnType<typeof makeLater>["results"]>().toEqualTypeOf<
      (string | RunnerFailedError | undefined)[]
    >();
    const check = (ds: Dataset<Params, { twice: number }>) => {
      ds.appendRun({ a: 1 });
      ds.appendRuns([{ a: 1, label: "x" }], { skip: false });
      expectTypeOf(ds.runners[0].args).toEqualTypeOf<Params>();
      // @ts-expect-error: `a` must be a number
      ds.appendRun({ a: "one" });
      // @ts-expect-error: `a` is required
      ds.appendRun({ label: "x" });
    };
    expectTypeOf(check).toBeFunction();
    // A function whose argument is not an object cannot make a Dataset.
    // @ts-expect-error: args are one object of named values
    const wrong = () => new Dataset((s: string) => s.length);
    expectTypeOf(wrong).toBeFunction();
  });

  it("type what Dataset.open restores when given its types, unknown otherwise", () => {
    interface Params {
      n: number;
    }
    const typed = () => Dataset.open<Params, number[]>("some.remoterun.json");
    const untyped = () => Dataset.open("some.remoterun.json");
    expectTypeOf<ReturnType<typeof typed>>().toEqualTypeOf<Dataset<Params, number[]>>();
    expectTypeOf<ReturnType<typeof typed>["results"]>().toEqualTypeOf<
      (number[] | RunnerFailedError | undefined)[]
    >();
    expectTypeOf<ReturnType<typeof untyped>>().toEqualTypeOf<Dataset<Record<string, unknown>, unknown>>();
    const check = (ds: Dataset<Params, number[]>) => {
      // @ts-expect-error: the args were typed
      ds.appendRun({ n: "1" });
    };
    expectTypeOf(check).toBeFunction();
  });

  it("type the options objects: misspelt own options of calls without run args do not compile", () => {
    const check = (ds: Dataset<{ a: number }, number>) => {
      // @ts-expect-error: wait has interval and timeout
      void ds.wait({ timout: 1 });
      // @ts-expect-error: maintenance calls only take dryRun
      ds.wipeRuns({ dry_run: true });
      // @ts-expect-error: fetchResults takes no options
      void ds.fetchResults({ timeout: 1 });
      // Run args are open: custom keys compile (the checks at run time refuse likely typos).
      void ds.run({ partition: "short" });
    };
    expectTypeOf(check).toBeFunction();
  });
});
