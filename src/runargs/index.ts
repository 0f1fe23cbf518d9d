export {
  CONTEXTUAL_KEYS,
  defaultRunArgs,
  NATIVE_RUN_ARG_KEYS,
  type NativeRunArgs,
  type RunArgs,
} from "./defaults.js";
export { deriveRunArgs, setRunArgsOn, updateRunArgsOn } from "./levels.js";
export { decideAppend, decideSubmit, effectiveSkip, type RunnerPhase, type SubmitDecision } from "./rules.js";
export { expandRunDir, RUN_DIR_PLACEHOLDERS, validateRunArgs } from "./validate.js";
