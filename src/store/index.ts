export { writeFileAtomic } from "./atomic.js";
export { FileLock } from "./lock.js";
export { DB_VERSION, DatasetStore, type DbState, type Indexed, type StoreValidator } from "./store.js";
