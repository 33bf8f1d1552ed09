from pathlib import Path

from eventkit.service import ServiceSpec, main
from services.recharge.api import create

SPEC = ServiceSpec(name="recharge", migrations=Path(__file__).with_name("migrations"),
                   app_factory=create, default_port=8001)

if __name__ == "__main__":
    main(SPEC)
