"""`python -m tryon_app.gui`: open the desktop app."""

import sys

from tryon_app.gui.app import main

sys.exit(main())
