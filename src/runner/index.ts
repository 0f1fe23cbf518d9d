export { Runner, type RunnerParent, type RunnerRecord, runnerIdentity } from "./runner.js";
export {
  isAllowedTransition,
  isFinishedState,
  isInFlightState,
  phaseOf,
  RUNNER_STATES,
  type RunnerState,
  STATE_TRANSITIONS,
} from "./state.js";
