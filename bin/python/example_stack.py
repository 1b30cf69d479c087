"""bin/example-stack.ts in Python: the same construct ids, props and outputs, so the same template byte for byte."""

import os
import re
from typing import List, Optional

from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
    aws_events_targets as targets,
    aws_lambda as lambda_,
    aws_logs as logs,
    aws_secretsmanager as secretsmanager,
    aws_sns_subscriptions as subscriptions,
)
from constructs import Construct, Node
from together_webhooks import (
    ModelAlias,
    PollerOptions,
    RegistrationOptions,
    RetryRule,
    TogetherAutoDeploy,
    TogetherBatchResults,
    TogetherEventHandlers,
    TogetherFineTuneRetry,
    TogetherModelAliases,
    TogetherTrainingMonitor,
    TogetherWebhooks,
)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class ExampleStack(Stack):
    """A small Lambda per designed event type, the five recipes, alerts by email, the URL as an output."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api_key_secret_name: str,
        watch_models: List[str],
        alert_email: Optional[str] = None,
        auto_deploy: bool = True,
        fine_tune_prefix: Optional[str] = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        api_key = secretsmanager.Secret.from_secret_name_v2(self, "TogetherApiKey", api_key_secret_name)
        self.hooks = self._create_webhooks(api_key, watch_models, alert_email)
        self.auto_deploy = self._create_auto_deploy(fine_tune_prefix) if auto_deploy else None
        self.aliases = self._create_model_aliases(watch_models, fine_tune_prefix)
        self.batch_results = TogetherBatchResults(self, "BatchResults", webhooks=self.hooks)
        self.training = TogetherTrainingMonitor(self, "Training", webhooks=self.hooks)
        self.retry = self._create_fine_tune_retry()
        self._add_pipeline_outputs()
        self._add_recipe_outputs()
        acknowledge_nag_findings(self, self.batch_results)

    def _create_webhooks(self, api_key, watch_models, alert_email) -> TogetherWebhooks:
        fn = self._example_function
        hooks = TogetherWebhooks(
            self,
            "Hooks",
            handlers=TogetherEventHandlers(
                fine_tune_completed=[targets.LambdaFunction(fn("FineTuneCompleted"))],
                fine_tune_failed=[targets.LambdaFunction(fn("FineTuneFailed"))],
                fine_tune_checkpoint=[targets.LambdaFunction(fn("FineTuneCheckpoint"))],
                model_deprecated=[targets.LambdaFunction(fn("ModelDeprecated"))],
            ),
            registration=RegistrationOptions(api_key=api_key),
            poller=PollerOptions(api_key=api_key, watch_models=watch_models, jobs=True, rl_sessions=True),
            schemas=True,
            tracing=True,
        )
        if alert_email and hooks.alert_topic:
            hooks.alert_topic.add_subscription(subscriptions.EmailSubscription(alert_email))
        return hooks

    def _example_function(self, name: str) -> lambda_.Function:
        """One of the example's handlers, bundled by `npm run build:handlers` (build/example-handlers/<name>)."""
        return lambda_.Function(
            self,
            name,
            code=lambda_.Code.from_asset(example_handler(kebab(name))),
            handler="index.handler",
            runtime=lambda_.Runtime.NODEJS_24_X,
            architecture=lambda_.Architecture.ARM_64,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=logs.LogGroup(
                self,
                f"{name}Logs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
            timeout=Duration.seconds(10),
            memory_size=128,
            environment={},
            tracing=lambda_.Tracing.ACTIVE,
        )

    def _create_auto_deploy(self, fine_tune_prefix) -> TogetherAutoDeploy:
        return TogetherAutoDeploy(
            self,
            "AutoDeploy",
            webhooks=self.hooks,
            hardware="1x_nvidia_h100_80gb_sxm",
            max_eval_loss=1.0,
            model_name_prefix=fine_tune_prefix,
            inactive_timeout=Duration.hours(1),
        )

    def _create_fine_tune_retry(self) -> TogetherFineTuneRetry:
        # Recipe 5: a rule of your own first, then the defaults (out of memory, internal errors, data errors).
        return TogetherFineTuneRetry(
            self,
            "FineTuneRetry",
            webhooks=self.hooks,
            rules=[RetryRule.same_parameters(when_error_matches="NCCL timeout"), *RetryRule.defaults()],
            max_attempts=2,
        )

    def _create_model_aliases(self, watch_models, fine_tune_prefix) -> TogetherModelAliases:
        model = watch_models[0] if watch_models else "meta-llama/Llama-3.3-70B-Instruct-Turbo"
        aliases = [ModelAlias(name="chat", model=model)]
        if self.auto_deploy:
            aliases.append(ModelAlias(name="fine-tuned", model=model, follow_deployments_of=fine_tune_prefix or ""))
        return TogetherModelAliases(
            self, "ModelAliases", webhooks=self.hooks, aliases=aliases, switch_on_deprecation=True
        )

    def _add_pipeline_outputs(self) -> None:
        hooks = self.hooks
        out = lambda id, value, description: CfnOutput(self, id, value=value, description=description)  # noqa: E731
        out("WebhookUrl", hooks.webhook_url, "Give this URL to Together")
        out(
            "RegistrationStatus",
            hooks.registration.status,
            '"registered", or "unsupported" when Together has no webhooks endpoint (use the poller)',
        )
        if hooks.alert_topic:
            out("AlertTopicArn", hooks.alert_topic.topic_arn, "Alerts and alarms")
        out(
            "DeadLetterQueueUrl",
            hooks.dead_letter_queue.queue_url,
            "Events a target could not take after its retries (see README: Operating it)",
        )
        out("EventBusArn", hooks.event_bus.event_bus_arn, "Replay destination")
        if hooks.archive:
            out("ArchiveArn", hooks.archive.archive_arn, "Replay source")
        out(
            "PollerLogGroup",
            hooks.poller.function.log_group.log_group_name,
            "One line per poll: aws logs tail <this> --follow",
        )
        out(
            "SigningSecretArn",
            hooks.secret.secret_arn,
            "The signing secret Together must use (its value stays in Secrets Manager)",
        )

    def _add_recipe_outputs(self) -> None:
        CfnOutput(
            self,
            "BatchResultsBucket",
            value=self.batch_results.bucket.bucket_name,
            description=f"Batch outputs, under {self.batch_results.key_prefix}<batch id>/",
        )
        CfnOutput(
            self,
            "ModelAliasParameters",
            value=",".join(p.parameter_name for p in self.aliases.parameters),
            description="SSM parameters your inference code reads as the model name",
        )
        if self.training.dashboard:
            CfnOutput(
                self,
                "DashboardName",
                value=self.training.dashboard.dashboard_name,
                description="Received, published, poller health, dead letters, training loss",
            )


def example_props_from_context(node: Node) -> dict:
    """examplePropsFromContext: alertEmail, apiKeySecretName, watchModels, autoDeploy, fineTunePrefix from -c."""

    def text(key: str) -> Optional[str]:
        value = node.try_get_context(key)
        if value is None or str(value).strip() == "":
            return None
        # String(true) in TypeScript is "true"; Python's str(True) is "True".
        return ("true" if value else "false") if isinstance(value, bool) else str(value).strip()

    models = text("watchModels")
    return {
        "alert_email": text("alertEmail"),
        "api_key_secret_name": text("apiKeySecretName") or "together/api-key",
        "watch_models": [m.strip() for m in models.split(",") if m.strip()]
        if models is not None
        else ["meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen3.5-9B"],
        "auto_deploy": text("autoDeploy") != "false",
        "fine_tune_prefix": text("fineTunePrefix"),
    }


def example_handler(name: str) -> str:
    directory = os.path.normpath(os.path.join(ROOT, "build", "example-handlers", name))
    if not os.path.exists(os.path.join(directory, "index.js")):
        raise RuntimeError(f"example handler {name} is not built: run `npm run build:handlers` (npm run synth does)")
    return directory


def kebab(name: str) -> str:
    return re.sub(r"([a-z])([A-Z])", r"\1-\2", name).lower()


def acknowledge_nag_findings(stack: Stack, batch_results: TogetherBatchResults) -> None:
    """Each cdk-nag finding the design accepts, with why: the TypeScript example's, word for word."""

    def ack(scope, id: str, reason: str) -> None:
        Validations.of(scope).acknowledge(Acknowledgment(id=id, reason=reason))

    ack(
        stack,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "The AWS managed basic execution role only lets each function write its own CloudWatch logs.",
    )
    ack(
        stack,
        "AwsSolutions-APIG4",
        "Together posts webhooks without AWS credentials; every request is authenticated by its HMAC signature in the "
        "verifier, which refuses unsigned or forged ones with 401 before touching any data.",
    )
    ack(
        stack,
        "AwsSolutions-SMG4",
        "The webhook signing secret is shared with Together; it is rotated by hand together with the registration, "
        "and the verifier accepts AWSCURRENT and AWSPREVIOUS during the switch.",
    )
    ack(
        stack,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue for the event rules; a dead-letter queue of a dead-letter queue "
        "adds nothing.",
    )
    bucket = batch_results.bucket.node.default_child
    ack(
        bucket,
        "AwsSolutions-S1",
        "Batch outputs are written only by the batch results handler; CloudTrail data events, not server access "
        "logs, are the audit trail for this example bucket.",
    )
    # Only on the traced functions, so a "*" anywhere else is still a finding.
    for fn in stack.node.find_all():
        if not isinstance(fn, lambda_.CfnFunction):
            continue
        tracing = stack.resolve(fn.tracing_config)
        if not tracing or tracing.get("mode") != "Active":
            continue
        ack(
            fn.node.scope,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords take no resource ARN, only '*'.",
        )
    bucket_id = stack.resolve(stack.get_logical_id(bucket))
    ack(
        stack,
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{batch_results.key_prefix}*]",
        "The batch results handler writes two objects per batch under its prefix (output.jsonl, errors.jsonl); batch "
        "ids are not known at deploy time.",
    )


__all__ = ["ExampleStack", "example_props_from_context"]
