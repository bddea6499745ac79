"""DependsOn without the entries a reference already implies (cfn-lint W3005).

CDK makes a function depend on its role *and* the role's policies. The policy dependencies
matter (Lambda checks the dead-letter queue permission on create; an event source mapping
or a custom resource must not call a function before its policy lets it work); the role one
is implied by the Fn::GetAtt of its ARN, and cfn-lint flags it. Likewise a bucket's
notifications resource depends on the queues whose ARNs it already names.
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import CfnResource, IStableListProducer, Lazy, Stack


@jsii.implements(IStableListProducer)
class _DependsOnExcept:
    """`resource`'s DependsOn (known only once the app is prepared) without `redundant`."""

    def __init__(self, resource: CfnResource, redundant: Sequence[CfnResource]) -> None:
        self.resource = resource
        self.redundant = redundant  # read at synth: the caller may still add to it

    def produce(self) -> list[str] | None:
        stack = Stack.of(self.resource)
        redundant = {r.node.path for r in self.redundant}
        logical_ids = sorted(
            stack.resolve(stack.get_logical_id(dependency))
            for dependency in self.resource.obtain_dependencies()
            if isinstance(dependency, CfnResource) and dependency.node.path not in redundant
        )
        return logical_ids or None


def drop_redundant_dependencies(resource: CfnResource, redundant: Sequence[CfnResource]) -> None:
    """Keep every DependsOn of `resource` but those on `redundant` (which it references anyway).

    `redundant` is read when the template is written, so a list passed here may still grow.
    """
    resource.add_override("DependsOn", Lazy.list(_DependsOnExcept(resource, redundant)))
