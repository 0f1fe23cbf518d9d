import { existsSync, statSync } from "node:fs";
import { basename } from "node:path";
import { Computer } from "../computer/index.js";
import { templateNames } from "../computer/names.js";
import { type ConnectOptions, connect } from "../connection/index.js";
import type { Connection } from "../connection/types.js";
import type { Serializer } from "../remote/serial.mjs";
import { NATIVE_RUN_ARG_KEYS, type RunArgs, validateRunArgs } from "../runargs/index.js";
import { InvalidArgumentError, SerializationError } from "../shared/errors.js";
import { localPath } from "../shared/paths.js";
import { checkOptionKeys } from "../shared/suggest.js";
import { isValidName } from "./layout.js";
import {
  APPEND_OWN_KEYS,
  type AppendOptions,
  type AppendOwnOptions,
  type DatasetOwnOptions,
  DRY_RUN_KEYS,
  type Logger,
  splitOptions,
} from "./options.js";
import { SERIALIZERS, type SerializerName } from "./serializer.js";

/** The run-arg names known with this Computer: remoterun's own and those its template reads. */
export function runArgNamesOf(computer: Computer | undefined): ReadonlySet<string> {
  return new Set([...NATIVE_RUN_ARG_KEYS, ...(computer ? templateNames(computer.template) : [])]);
}

/** The settings of `new Dataset` from its own options, each checked (run args too) in this order. */
export function datasetSettings(
  own: Partial<DatasetOwnOptions>,
  runArgs: RunArgs,
): {
  name: string;
  verbosity: number;
  logger: Logger;
  connection: Connection;
  /** The Dataset made the connection from options (so it closes it in close()). */
  ownsConnection: boolean;
  computer: Computer | undefined;
  extraFilesSend: string[];
  dbDir: string;
  serializer: SerializerName;
} {
  const name = own.name ?? "dataset";
  if (typeof name !== "string" || !isValidName(name)) {
    throw new InvalidArgumentError(
      "Dataset name",
      name,
      "letters, digits, '.', '_' or '-' (at most 128, not starting with '.' or '-')",
    );
  }
  const serializer = own.serializer ?? "json";
  if (!(SERIALIZERS as readonly unknown[]).includes(serializer))
    throw new InvalidArgumentError("serializer", serializer, `one of ${SERIALIZERS.join(", ")}`);
  if (own.script !== undefined && serializer !== "json")
    throw new InvalidArgumentError(
      "serializer",
      serializer,
      '"json" for a script Dataset (its args fill a script and its result is text)',
    );
  if (own.skip !== undefined && typeof own.skip !== "boolean")
    throw new InvalidArgumentError("skip", own.skip, "a boolean");
  if (own.force !== undefined && typeof own.force !== "boolean")
    throw new InvalidArgumentError("force", own.force, "a boolean (ignored at Dataset creation)");
  validateRunArgs(runArgs, "Dataset run args");
  const verbosity = verbosityOf(own.verbose);
  if (own.logger !== undefined && typeof own.logger !== "function") {
    throw new InvalidArgumentError("logger", own.logger, "a function that takes a message");
  }
  const logger = own.logger ?? ((m: string) => console.log(m));
  if (own.computer !== undefined && !(own.computer instanceof Computer)) {
    throw new InvalidArgumentError("computer", own.computer, "a Computer (e.g. Computer.slurm())");
  }
  const givenExtra = own.extraFilesSend ?? [];
  if (!Array.isArray(givenExtra) || givenExtra.some((f) => typeof f !== "string" || f === ""))
    throw new InvalidArgumentError("extraFilesSend", givenExtra, "an array of paths of existing files");
  // Local paths: `~/…` is the local home, relative paths are from the working folder now.
  const extra = givenExtra.map((f: string) => localPath(f, "extraFilesSend"));
  if (extra.some((f) => !existsSync(f) || !statSync(f).isFile()))
    throw new InvalidArgumentError("extraFilesSend", givenExtra, "an array of paths of existing files");
  // Each lands in remoteDir under its own name: two of one name would overwrite each other there.
  const byName = new Map<string, string>();
  for (const f of extra) {
    const other = byName.get(basename(f));
    if (other !== undefined && other !== f)
      throw new InvalidArgumentError(
        "extraFilesSend",
        givenExtra,
        "files of different names (each is sent into remoteDir under its own name)",
        `${other} and ${f} are both named ${basename(f)}`,
      );
    byName.set(basename(f), f);
  }
  const givenDbDir = own.dbDir ?? process.cwd();
  if (typeof givenDbDir !== "string" || givenDbDir === "")
    throw new InvalidArgumentError("dbDir", givenDbDir, "a folder path");
  const dbDir = localPath(givenDbDir, "dbDir");
  const given = own.connection ?? own.url;
  const connection = isConnection(given) ? given : connect(given as ConnectOptions);
  return {
    serializer,
    name,
    verbosity,
    logger,
    connection,
    ownsConnection: !isConnection(given),
    computer: own.computer,
    extraFilesSend: [...extra],
    dbDir,
  };
}

/** The args and options of one append, checked; the args encoded (refused when they cannot travel). */
export function appendInput(
  args: unknown,
  options: AppendOptions,
  runArgNames: ReadonlySet<string>,
  serializer: Serializer,
): { own: Partial<AppendOwnOptions>; runArgs: RunArgs; wireArgs: unknown } {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new InvalidArgumentError("appendRun options", options, "an object");
  checkOptionKeys("appendRun", options, { own: APPEND_OWN_KEYS, runArgs: runArgNames });
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new InvalidArgumentError("appendRun args", args, "an object of named function arguments");
  }
  const { own, runArgs } = splitOptions(options, APPEND_OWN_KEYS);
  for (const k of ["skip", "force", "lazy", "quiet"] as const) {
    if (own[k] !== undefined && typeof own[k] !== "boolean")
      throw new InvalidArgumentError(`appendRun ${k}`, own[k], "a boolean");
  }
  validateRunArgs(runArgs, "Runner run args");
  let wireArgs: unknown;
  try {
    wireArgs = serializer.toWire(args, "args");
  } catch (e) {
    const err = e as Error & { path?: string; value?: unknown; reason?: string };
    // Anything else (a RangeError of a library) is named too, never thrown raw.
    throw new SerializationError(
      err.path ?? "args",
      err.path ? err.value : args,
      `${err.reason ?? err.message} (serializer ${serializer.name})`,
    );
  }
  return { own, runArgs, wireArgs };
}

export interface DryRunOption {
  /** Print what would happen and change nothing. */
  dryRun?: boolean;
}

/**
 * The dryRun flag of a maintenance call (`call` names it in errors). Without `runArgNames` the call
 * takes no other option; with them (retryFailed) other keys are run args, typos refused.
 */
export function dryRunOf(options: DryRunOption, call: string, runArgNames?: ReadonlySet<string>): boolean {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new InvalidArgumentError(`${call} options`, options, "an object");
  checkOptionKeys(call, options, { own: DRY_RUN_KEYS, runArgs: runArgNames ?? false });
  if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") {
    throw new InvalidArgumentError("dryRun", options.dryRun, "a boolean");
  }
  return options.dryRun === true;
}

function verbosityOf(v: unknown): number {
  if (v === undefined) return 1;
  if (v === true) return 2;
  if (v === false) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  throw new InvalidArgumentError("verbose", v, "a boolean or a whole number >= 0");
}

function isConnection(c: unknown): c is Connection {
  const o = c as Connection;
  return (
    !!o &&
    typeof o === "object" &&
    typeof o.exec === "function" &&
    typeof o.push === "function" &&
    typeof o.pull === "function"
  );
}
