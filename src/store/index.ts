export { writeFileAtomic } from "./atomic.js";
export { FileLock, holdLocksBriefly } from "./lock.js";
export { DatasetStore, DB_VERSION, type DbState, type Indexed, type StoreValidator } from "./store.js";
