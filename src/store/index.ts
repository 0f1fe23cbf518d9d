export { writeFileAtomic } from "./atomic.js";
export { FileLock } from "./lock.js";
export { DatasetStore, type DbState, type Indexed } from "./store.js";
