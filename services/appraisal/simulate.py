"""A county-year of ratings with planted truth, and the lists scored against it.

    python -m services.appraisal.simulate [--seeds 1 2 3 4 5] [--level 0.85] [--gap 0.3]
    python -m services.appraisal.simulate --scale province [--officers 10000]
                                          [--ratings 1000000] [--seed 1] [--profile]

The default scenario: 200 chiefs whose true quality is N(0, 0.3) on the rating scale, the
first 10 planted excellent (+0.9) and the next 10 planted poor (-0.9); 400 enterprises rate
them, each with its own leniency N(0, 0.3), each chief rated by the enterprises it serves
(a pool of 12); ratings per chief ~ Poisson(25), except 30 chiefs (15%, three of the planted
poor among them) with fewer than 5; a rating is 3.5 + quality + leniency + N(0, 0.8),
rounded to a whole 1-5.

This drives the scoring directly (services.appraisal.scoring): it checks the method against
the truth it planted. `--scale province` plants the same shares in a province (10,000
officers, 40,000 enterprises, 1,000,000 ratings), stores the year as appraisal's own
invitations in an embedded database of its own (a temporary folder) and times the year's
ranking as the service does it, storage read included (services.appraisal.province).
`python -m infra.simulate` drives a county-year through the running platform instead.
"""
import argparse
import sys
from datetime import datetime

from .planted import against_truth, county_year, table
from .province import province
from .scoring import Rules, appraise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--level", type=float, default=Rules.level)
    parser.add_argument("--gap", type=float, default=Rules.gap)
    parser.add_argument("--scale", choices=("county", "province"), default="county",
                        help="province: a province's year fed to appraisal's store and ranked")
    parser.add_argument("--officers", type=int, default=10_000, help="--scale province")
    parser.add_argument("--ratings", type=int, default=1_000_000, help="--scale province")
    parser.add_argument("--through-handlers", type=int, default=2000,
                        help="--scale province: ratings fed one by one through the handlers "
                             "(the rest in bulk)")
    parser.add_argument("--seed", type=int, default=1, help="--scale province")
    parser.add_argument("--year", type=int, default=datetime.now().year - 1,
                        help="--scale province (default: last year)")
    parser.add_argument("--profile", action="store_true",
                        help="--scale province: also profile the ranking")
    args = parser.parse_args(argv)
    if args.scale == "province":
        province(args.officers, args.ratings, args.seed, args.year, args.through_handlers,
                 profile=args.profile)
        return 0
    rules = Rules(level=args.level, gap=args.gap)
    rows = []
    for seed in args.seeds:
        ratings, truth = county_year(seed)
        rows.append((seed, against_truth(appraise(ratings, rules, seed), truth)))
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
