"""The slot a block leaves in a network when depth pruning removes it."""

from __future__ import annotations

from torch import nn


class RemovedBlock(nn.Identity):
    """Where depth pruning removed a block (a width of 0 in the network's widths).

    The slot passes its input through: for a residual block, exactly the block with a zero
    residual branch. A network checks for it where a removed part means another path (a removed
    flow refinement head). Keeping the slot keeps the other layers' state-dict keys those of
    the unpruned network.
    """
