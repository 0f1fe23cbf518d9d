export { Runner, type RunnerParent, type RunnerRecord, runnerIdentity } from "./runner.js";
export { isFinishedState, isInFlightState, phaseOf, RUNNER_STATES, type RunnerState } from "./state.js";
