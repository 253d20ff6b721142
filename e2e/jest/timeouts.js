// End-to-end tests and their hooks wait on real processes (helm installs,
// leader failover, backups): give them minutes, not jest's default 5 s.
import { jest } from "@jest/globals";

jest.setTimeout(300_000);
