"""pybullet client ownership: one DIRECT client per scene, always disconnected.

pybullet does not release the GIL, so nothing else heavy may share the loop's process;
rendering (a camera) lives in another process with its own client.
"""

from __future__ import annotations

from typing import Any

import pybullet

from haptics.errors import SceneError


class World:
    """A pybullet DIRECT client and the helpers scenes need."""

    def __init__(self) -> None:
        self.client = pybullet.connect(pybullet.DIRECT)
        if self.client < 0:
            raise SceneError("pybullet could not start a DIRECT client")
        self._open = True

    def box(
        self, half_extents: tuple[float, float, float], position: tuple[float, float, float]
    ) -> int:
        shape = pybullet.createCollisionShape(
            pybullet.GEOM_BOX, halfExtents=half_extents, physicsClientId=self.client
        )
        return int(
            pybullet.createMultiBody(0.0, shape, basePosition=position, physicsClientId=self.client)
        )

    def sphere(self, radius: float, position: tuple[float, float, float], mass: float = 0.0) -> int:
        shape = pybullet.createCollisionShape(
            pybullet.GEOM_SPHERE, radius=radius, physicsClientId=self.client
        )
        return int(
            pybullet.createMultiBody(
                mass, shape, basePosition=position, physicsClientId=self.client
            )
        )

    def move(self, body: int, position: tuple[float, float, float]) -> None:
        pybullet.resetBasePositionAndOrientation(
            body, position, (0.0, 0.0, 0.0, 1.0), physicsClientId=self.client
        )

    def closest(self, a: int, b: int, max_distance: float) -> list[Any]:
        """Closest points of two bodies within `max_distance` (negative distance = overlap)."""
        return list(pybullet.getClosestPoints(a, b, max_distance, physicsClientId=self.client))

    def close(self) -> None:
        """Disconnect (idempotent: pybullet reuses client ids, so a second disconnect could
        end another world's client)."""
        if self._open:
            self._open = False
            if pybullet.isConnected(self.client):
                pybullet.disconnect(self.client)
