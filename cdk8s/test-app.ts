import { App } from "cdk8s";

/**
 * An App for the unit tests, which only render (Testing.synth) and never
 * write: cdk8s's Testing.app() makes an output directory in the temp
 * directory per call and leaves it there.
 */
export function testApp(): App {
  return new App();
}
