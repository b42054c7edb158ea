// The program entry Pulumi runs (Pulumi.yaml `main`): reads the stack config once and declares
// the service (stacks/program.ts); the stack outputs are what the program returns.
// First: the SDK's parts the program never uses load only if used (policy/sdk-loading.ts).
import "../policy/sdk-loading";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./config";
import { program } from "./program";

export = program(readStackConfig(new pulumi.Config("churn-model")));
