import { ResourceValidationPolicy } from "@pulumi/policy";
import { record, text } from "../lib/values";

export const ECR_REPOSITORY_TYPE = "aws:ecr/repository:Repository";

/** A pushed version can never be overwritten, and every pushed image is scanned. */
export const ecrRepositoryHardening: ResourceValidationPolicy = {
  name: "ecr-repository-hardening",
  description: "Every ECR repository must have immutable image tags and scan images on push.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== ECR_REPOSITORY_TYPE) {
      return;
    }
    const subject = `ECR repository "${args.name}"`;
    const mutability = text(args.props.imageTagMutability);
    if (mutability !== "IMMUTABLE") {
      report(
        `${subject} must set imageTagMutability to IMMUTABLE (it is ${mutability ?? "unset, which means MUTABLE"})`,
      );
    }
    if (record(args.props.imageScanningConfiguration)?.scanOnPush !== true) {
      report(`${subject} must set imageScanningConfiguration.scanOnPush to true`);
    }
  },
};
