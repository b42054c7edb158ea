"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ecrRepositoryHardening = exports.ECR_REPOSITORY_TYPE = void 0;
const values_1 = require("../lib/values");
exports.ECR_REPOSITORY_TYPE = "aws:ecr/repository:Repository";
/** A pushed version can never be overwritten, and every pushed image is scanned. */
exports.ecrRepositoryHardening = {
    name: "ecr-repository-hardening",
    description: "Every ECR repository must have immutable image tags and scan images on push.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== exports.ECR_REPOSITORY_TYPE) {
            return;
        }
        const subject = `ECR repository "${args.name}"`;
        const mutability = (0, values_1.text)(args.props.imageTagMutability);
        if (mutability !== "IMMUTABLE") {
            report(`${subject} must set imageTagMutability to IMMUTABLE (it is ${mutability ?? "unset, which means MUTABLE"})`);
        }
        if ((0, values_1.record)(args.props.imageScanningConfiguration)?.scanOnPush !== true) {
            report(`${subject} must set imageScanningConfiguration.scanOnPush to true`);
        }
    },
};
