import { InvalidArgumentError as CommanderInvalidArgument } from "commander";
import { describe, expect, it } from "vitest";
import {
  CommandError,
  ConnectionError,
  DatabaseError,
  DatasetLockedError,
  InvalidArgumentError,
  RemoteEnvironmentError,
  SchedulerError,
  TransferError,
  WaitTimeoutError,
} from "../index.js";
import { EXIT, EXIT_CODES_HELP, exitCodeOf, UsageError } from "./exit-codes.js";
import { seconds } from "./parse.js";

describe("exit codes", () => {
  it("map the library's typed errors", () => {
    expect(exitCodeOf(new UsageError("x"))).toBe(2);
    expect(exitCodeOf(new InvalidArgumentError("a", 1, "b"))).toBe(2);
    expect(exitCodeOf(new WaitTimeoutError(1, ["r"]))).toBe(3);
    expect(exitCodeOf(new ConnectionError("h", "refused", "no"))).toBe(4);
    expect(exitCodeOf(new TransferError("push", "no"))).toBe(4);
    expect(exitCodeOf(new CommandError("c", { exitCode: 1, stdout: "", stderr: "" }))).toBe(4);
    expect(exitCodeOf(new SchedulerError("no"))).toBe(4);
    expect(exitCodeOf(new RemoteEnvironmentError("no node"))).toBe(4);
    expect(exitCodeOf(new DatasetLockedError("f", "pid 1"))).toBe(5);
    expect(exitCodeOf(new DatabaseError("f", "bad"))).toBe(5);
    expect(exitCodeOf(new TypeError("bug"))).toBe(EXIT.INTERNAL);
    expect(exitCodeOf("thrown string")).toBe(EXIT.INTERNAL);
  });

  it("the help text documents every code", () => {
    for (const code of new Set(Object.values(EXIT)))
      expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code} `, "m"));
    // What the reading commands' codes mean is said too.
    expect(EXIT_CODES_HELP).toMatch(/for errors: none failed/);
    expect(EXIT_CODES_HELP).toMatch(/logs: nothing known yet/);
    expect(EXIT_CODES_HELP).toMatch(/ambiguous Dataset/);
    expect(EXIT_CODES_HELP).toMatch(/list: one of those listed/);
  });

  it("seconds: positive numbers (zero only where allowed)", () => {
    expect(seconds()("0.5")).toBe(0.5);
    expect(seconds(true)("0")).toBe(0);
    for (const bad of ["0", "-1", "x", "", "Infinity"])
      expect(() => seconds()(bad)).toThrow(CommanderInvalidArgument);
    expect(() => seconds(true)("-0.1")).toThrow(CommanderInvalidArgument);
  });
});
