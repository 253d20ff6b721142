// Jest's default of 5 s per test is a guess about speed, not a property of
// any unit test: on a machine busy with other work, vault tests that derive
// keys (scrypt) and back up several megabytes have taken longer and failed
// for it. A hang still fails, after 60 s.
import { jest } from "@jest/globals";

jest.setTimeout(60_000);
