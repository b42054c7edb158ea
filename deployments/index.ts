// The churn-model-deployments program entry (deployments/Pulumi.yaml `main`).
import { declareDelivery } from "./delivery";
import { pulumiConfigSource, readDeliveryConfig } from "./config";

export = declareDelivery(readDeliveryConfig(pulumiConfigSource()));
