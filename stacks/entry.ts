// The program entry Pulumi runs (Pulumi.yaml `main`): the stack outputs are what main() returns.
import main from "./index";

export = main();
