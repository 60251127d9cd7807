"""The language side of huashu: normalise, segment and classify customer messages."""
