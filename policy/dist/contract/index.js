"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __exportStar = (this && this.__exportStar) || function(m, exports) {
    for (var p in m) if (p !== "default" && !Object.prototype.hasOwnProperty.call(exports, p)) __createBinding(exports, m, p);
};
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * The delivery's contract: what the promotion tools, the program, the Deployments program and
 * the policy pack must agree on, as pure code (no file system, no environment, no exit codes).
 * Everything outside policy/ imports it from here; nothing here imports from outside it.
 * See docs/design.md ("Contracts") and docs/evidence-format.md.
 */
__exportStar(require("./analysis"), exports);
__exportStar(require("./analysis-record"), exports);
__exportStar(require("./artifact"), exports);
__exportStar(require("./approval"), exports);
__exportStar(require("./approval-quorum"), exports);
__exportStar(require("./canary-chain"), exports);
__exportStar(require("./canary-config"), exports);
__exportStar(require("./canonical"), exports);
__exportStar(require("./errors"), exports);
__exportStar(require("./evidence-schema"), exports);
__exportStar(require("./names"), exports);
__exportStar(require("./policy-config"), exports);
__exportStar(require("./position"), exports);
__exportStar(require("./stats"), exports);
__exportStar(require("./thresholds"), exports);
__exportStar(require("./trust"), exports);
__exportStar(require("./verify"), exports);
__exportStar(require("./version"), exports);
