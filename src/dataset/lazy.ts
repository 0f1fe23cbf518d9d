/**
 * The parser, scope analyser and bundler, loaded on first use: a script that never makes a Dataset
 * from a function (the CLI, a script Dataset) does not pay for loading them.
 */
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);

let acornModule: typeof import("acorn") | undefined;
let scopeModule: typeof import("eslint-scope") | undefined;
let esbuildModule: typeof import("esbuild") | undefined;

export const acorn = (): typeof import("acorn") => {
  acornModule ??= load("acorn") as typeof import("acorn");
  return acornModule;
};
export const eslintScope = (): typeof import("eslint-scope") => {
  scopeModule ??= load("eslint-scope") as typeof import("eslint-scope");
  return scopeModule;
};
export const esbuild = (): typeof import("esbuild") => {
  esbuildModule ??= load("esbuild") as typeof import("esbuild");
  return esbuildModule;
};
