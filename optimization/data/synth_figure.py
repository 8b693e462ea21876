"""The posed figure of a realistic scene: world outlines, bones and the garment-to-body map.

`build_figure` turns a sampled `Person` into geometry in centimetres: a smooth torso profile
(half-width and centre line at every height), the neck and head placement, two arms as
shoulder-elbow-wrist bones with a hand direction, and two legs. Garments are designed once on a
*canonical* body (the same frame, fixed proportions) and `Figure.from_canonical` /
`Figure.to_canonical` carry garment points onto this body and back: heights through the named
levels, widths in proportion to the local half-width with a cylinder wrap, and a gentle linear
continuation beyond the body's sides so loose garments stand off it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimization.data.synth_canvas import Box, View, smooth_curve
from optimization.data.synth_person import BodyShape, Person

# The canonical body garments are cut for: heights of the levels the body map passes through and
# the torso half-width there.
MAP_LEVELS = ("neck_side", "shoulder", "armpit", "waist", "hip", "crotch", "mid_thigh", "knee")
CANONICAL_Y = np.array([-4.5, 1.0, 13.0, 31.0, 49.0, 56.0, 70.0, 87.0])
# Flat widths (`synth_apparel.FLAT_WIDTH` times what the body shows from the front).
CANONICAL_HALF = np.array([6.8, 18.2, 16.0, 13.6, 18.0, 18.2, 17.2, 15.0]) * 1.3


@dataclass(frozen=True, eq=False)
class ArmBones:
    side: int  # -1 image left, +1 image right
    mode: str
    joint: np.ndarray
    elbow: np.ndarray
    wrist: np.ndarray
    hand_dir: np.ndarray  # unit vector from the wrist towards the fingertips
    upper_half: float
    wrist_half: float
    hand_length: float

    @property
    def upper_length(self) -> float:
        return float(np.hypot(*(self.elbow - self.joint)))

    @property
    def length(self) -> float:
        return self.upper_length + float(np.hypot(*(self.wrist - self.elbow)))

    def at(self, u: float, across: float) -> np.ndarray:
        """World point `u` cm along the bones from the shoulder joint, `across` cm to the inner side."""
        upper = self.upper_length
        start, end, along = (
            (self.joint, self.elbow, u) if u <= upper else (self.elbow, self.wrist, u - upper)
        )
        vector = end - start
        unit = vector / max(float(np.hypot(*vector)), 1e-6)
        inner = -self.side * np.array([unit[1], -unit[0]])
        return start + unit * along + inner * across

    def half_width(self, u: np.ndarray) -> np.ndarray:
        """Half-width of the bare arm (cm) at arc length `u` from the shoulder joint."""
        return np.interp(
            u,
            [
                -8.0,
                0.0,
                self.upper_length * 0.35,
                self.upper_length,
                self.upper_length + 6.0,
                self.length,
            ],
            [
                self.upper_half * 1.12,
                self.upper_half * 1.08,
                self.upper_half,
                self.upper_half * 0.8,
                self.upper_half * 0.86,
                self.wrist_half,
            ],
        ).astype(np.float32)


@dataclass(frozen=True, eq=False)
class LegBones:
    side: int
    hip: np.ndarray
    knee: np.ndarray
    ankle: np.ndarray


@dataclass(frozen=True, eq=False)
class ArmField:
    """Arm-centred coordinates over a pixel box, in cm.

    `u`: arc length along shoulder -> elbow -> wrist (negative past the shoulder joint);
    `across`: signed distance from the arm's axis, positive on the inner (armpit) side;
    `distance`: distance to the bones with round ends; `inner_x`, `inner_y`: the unit vector
    pointing to the inner side there (for the arm's rounded shading).
    """

    box: Box
    u: np.ndarray
    across: np.ndarray
    distance: np.ndarray
    inner_x: np.ndarray
    inner_y: np.ndarray


@dataclass(frozen=True, eq=False)
class Figure:
    person: Person
    profile_y: np.ndarray  # dense heights of the torso profile
    profile_half: np.ndarray  # torso half-width there
    profile_centre: np.ndarray  # centre line x there (the hips shift with a lean)
    level_y: np.ndarray  # world heights of MAP_LEVELS
    head_centre: np.ndarray
    head_axes: tuple[float, float]  # half width, half height of the skull
    arms: tuple[ArmBones, ArmBones]
    legs: tuple[LegBones, LegBones]
    eye_level: float  # height of the camera (cm)
    distance: float  # from the camera (cm)

    @property
    def body(self) -> BodyShape:
        return self.person.body

    def half(self, y: np.ndarray) -> np.ndarray:
        return np.interp(y, self.profile_y, self.profile_half).astype(np.float32)

    def centre(self, y: np.ndarray) -> np.ndarray:
        return np.interp(y, self.profile_y, self.profile_centre).astype(np.float32)

    @property
    def crown(self) -> float:
        """World y of the top of the head, hair included."""
        return float(self.head_centre[1] - self.head_axes[1] - self.person.hair.volume * 0.8)

    def _nearness(self, body_ratio: np.ndarray, y: np.ndarray) -> np.ndarray:
        """How much nearer the camera than the body's axis a surface point is, over the distance."""
        depth = self.half(y) * np.float32(0.75) * np.sqrt(np.clip(1 - body_ratio**2, 0, 1))
        return depth / np.float32(self.distance)

    def from_canonical(self, x: np.ndarray, y: np.ndarray, wrap: float):
        """Canonical garment points -> world cm."""
        world_y = _extend_interp(y, CANONICAL_Y, self.level_y)
        ratio = _wrap(x / np.interp(y, CANONICAL_Y, CANONICAL_HALF), wrap)
        world_x = self.centre(world_y) + self.half(world_y) * ratio
        # Perspective: the front of the body is nearer than its sides, so a line round the body
        # bends away from the camera's height (a hem below it smiles).
        return world_x, world_y + (world_y - self.eye_level) * self._nearness(ratio, world_y)

    def to_canonical(self, x: np.ndarray, y: np.ndarray, wrap: float):
        """World cm -> canonical garment points (the inverse of `from_canonical`), float32."""
        nearness = self._nearness((x - self.centre(y)) / self.half(y), y)
        y = self.eye_level + (y - self.eye_level) / (1 + nearness)
        canonical_y = _extend_interp(y, self.level_y, CANONICAL_Y)
        ratio = _unwrap((x - self.centre(y)) / self.half(y), wrap)
        canonical_x = ratio * np.interp(canonical_y, CANONICAL_Y, CANONICAL_HALF)
        return canonical_x.astype(np.float32), canonical_y.astype(np.float32)

    def torso_outline(self) -> np.ndarray:
        """Closed world outline of the bare torso, neck base to below the hips."""
        b = self.body
        ys = np.linspace(self.body.level("armpit"), b.level("crotch") - 3, 14)
        right = np.stack([self.centre(ys) + self.half(ys), ys], axis=1)
        cx = float(self.centre(np.array(0.0)))
        shoulder_y = b.level("shoulder")
        top_right = smooth_curve(
            [
                (cx + b.neck_half, -5.0),
                (cx + b.neck_half + 3.5, shoulder_y - 3.6),
                (cx + b.shoulder_half - 3.0, shoulder_y - 1.4),
                (cx + b.shoulder_half + 0.8, shoulder_y + 2.5),
                (cx + b.shoulder_half + 0.2, shoulder_y + 7.5),
            ],
            20,
        )
        left_up = np.stack([self.centre(ys) - self.half(ys), ys], axis=1)[::-1]
        top_left = top_right[::-1] * np.array([-1.0, 1.0]) + np.array([2 * cx, 0.0])
        return np.concatenate([top_right, right, left_up, top_left])

    def arm_field(self, view: View, arm: ArmBones, margin_cm: float) -> ArmField:
        """Arm coordinates over the pixels within `margin_cm` of the arm's bones."""
        box = view.box(np.stack([arm.joint, arm.elbow, arm.wrist]), margin_cm)
        xs, ys = view.grid(box)
        bones = []
        for start, end in ((arm.joint, arm.elbow), (arm.elbow, arm.wrist)):
            vector = end - start
            length = float(np.hypot(*vector))
            unit = vector / max(length, 1e-6)
            inner = -arm.side * np.array([unit[1], -unit[0]])
            dx, dy = xs - np.float32(start[0]), ys - np.float32(start[1])
            along = dx * np.float32(unit[0]) + dy * np.float32(unit[1])
            across = dx * np.float32(inner[0]) + dy * np.float32(inner[1])
            distance = np.hypot(along - np.clip(along, 0, length), across)
            bones.append((along, across, distance, length, inner))
        (along1, across1, distance1, length1, inner1), (along2, across2, distance2, _, inner2) = (
            bones
        )
        first = distance1 <= distance2
        round_elbow = np.hypot(xs - np.float32(arm.elbow[0]), ys - np.float32(arm.elbow[1]))
        # Round the outside of the elbow so the two bones join without a seam.
        across1 = np.where(along1 > length1, np.sign(across1) * round_elbow, across1)
        across2 = np.where(along2 < 0, np.sign(across2) * round_elbow, across2)
        u = np.where(first, np.minimum(along1, length1), length1 + np.maximum(along2, 0))
        return ArmField(
            box,
            u.astype(np.float32),
            np.where(first, across1, across2).astype(np.float32),
            np.where(first, distance1, distance2).astype(np.float32),
            np.where(first, np.float32(inner1[0]), np.float32(inner2[0])).astype(np.float32),
            np.where(first, np.float32(inner1[1]), np.float32(inner2[1])).astype(np.float32),
        )


def _extend_interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation, continued linearly past both ends."""
    inside = np.interp(x, xp, fp)
    below = fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    above = fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return np.where(x < xp[0], below, np.where(x > xp[-1], above, inside))


def _side_slope(wrap: float) -> float:
    return max(wrap * math.cos(wrap) / math.sin(wrap), 0.45)


def _wrap(ratio: np.ndarray, wrap: float) -> np.ndarray:
    """Canonical width ratio -> body ratio: a cylinder inside the body, a straight line beyond."""
    inside = np.sin(np.clip(ratio, -1, 1) * wrap) / math.sin(wrap)
    beyond = np.sign(ratio) * (1 + (np.abs(ratio) - 1) * _side_slope(wrap))
    return np.where(np.abs(ratio) <= 1, inside, beyond)


def _unwrap(ratio: np.ndarray, wrap: float) -> np.ndarray:
    inside = np.arcsin(np.clip(ratio, -1, 1) * math.sin(wrap)) / wrap
    beyond = np.sign(ratio) * (1 + (np.abs(ratio) - 1) / _side_slope(wrap))
    return np.where(np.abs(ratio) <= 1, inside, beyond)


def _unit(angle_deg: float, side: int) -> np.ndarray:
    """Unit vector `angle_deg` from straight down, positive angles turning outwards on `side`."""
    angle = math.radians(angle_deg)
    return np.array([side * math.sin(angle), math.cos(angle)])


def _reach(joint, target, upper: float, fore: float, side: int):
    """Elbow and wrist of a two-bone arm reaching for `target`, the elbow bent outwards."""
    delta = target - joint
    distance = float(np.hypot(*delta))
    along = delta / max(distance, 1e-6)
    distance = float(np.clip(distance, abs(upper - fore) + 1.0, upper + fore - 0.5))
    to_elbow = (upper**2 - fore**2 + distance**2) / (2 * distance)
    bend = math.sqrt(max(upper**2 - to_elbow**2, 0.0))
    normal = np.array([-along[1], along[0]])
    if normal[0] * side < 0:
        normal = -normal
    elbow = joint + to_elbow * along + bend * normal
    towards = target - elbow
    return elbow, elbow + fore * towards / max(float(np.hypot(*towards)), 1e-6)


def _profile(body: BodyShape, lean: float):
    """Dense torso half-width and centre line, neck side to knee."""
    levels = [
        ("neck_side", body.neck_half + 0.6),
        ("shoulder", body.shoulder_half),
        ("armpit", body.chest_half),
        ("bust", body.chest_half + 0.4 * body.bust),
        ("waist", body.waist_half),
        ("hip", body.hip_half),
        ("crotch", body.hip_half + 0.1),
        ("mid_thigh", body.hip_half - 1.0),
        ("knee", body.hip_half - 3.5),
    ]
    points = np.array([(body.level(name), half) for name, half in levels])
    curve = smooth_curve(points, 160)
    order = np.argsort(curve[:, 0])
    ys, halves = curve[order, 0], curve[order, 1]
    keep = np.concatenate([[True], np.diff(ys) > 1e-6])
    ys, halves = ys[keep], halves[keep]
    sway = np.clip((ys - body.level("armpit")) / (body.level("hip") - body.level("armpit")), 0, 1)
    return ys, halves, lean * sway**2


def build_figure(person: Person, eye_level: float = 15.0, distance: float = 350.0) -> Figure:
    """World geometry of `person` in its pose, seen by a camera at `eye_level` cm high and
    `distance` cm away."""
    body, pose = person.body, person.pose
    ys, halves, centres = _profile(body, pose.lean)
    figure_centre = lambda y: float(np.interp(y, ys, centres))  # noqa: E731
    chin_y = -body.neck_length
    head_half_height = body.head_height / 2
    head_centre = np.array([0.0, chin_y - head_half_height * 0.92])
    waist_y, hip_y = body.level("waist"), body.level("hip")
    arms = []
    for index, side in enumerate((-1, 1)):
        arm_pose = pose.arms[index]
        joint = np.array([side * (body.shoulder_half - 4.0), body.level("shoulder") + 3.4])
        upper, fore = body.upper_arm, body.forearm
        mode = arm_pose.mode
        dx, dy = arm_pose.reach
        if mode == "down":
            elbow = joint + upper * _unit(arm_pose.spread, side)
            wrist = elbow + fore * _unit(arm_pose.spread + arm_pose.bend, side)
            hand = _unit(arm_pose.spread + arm_pose.bend * 1.2, side)
        elif mode == "hip":
            target = np.array(
                [figure_centre(waist_y) + side * (body.waist_half + 1.2 + dx), waist_y + 3 + dy]
            )
            elbow, wrist = _reach(joint, target, upper, fore, side)
            hand = np.array([-side * 0.55, 0.84])
        elif mode == "pocket":
            lower = person.lower
            target = np.array(
                [
                    figure_centre(hip_y) + side * (body.hip_half * 0.62 + dx),
                    lower.rise + 7.0 + dy,
                ]
            )
            elbow, wrist = _reach(joint, target, upper, fore, side)
            hand = np.array([-side * 0.2, 0.98])
        else:  # crossed: forearms across the torso towards the other side
            elbow = joint + upper * _unit(arm_pose.spread, side)
            lift = 1.0 if index == pose.front_arm else -4.0  # the front forearm lies lower
            target = np.array([-side * (body.chest_half * 0.5 + dx), elbow[1] + lift + dy])
            towards = target - elbow
            wrist = elbow + fore * towards / float(np.hypot(*towards))
            hand = towards / float(np.hypot(*towards))
        hand = hand / float(np.hypot(*hand))
        arms.append(
            ArmBones(
                side,
                mode,
                joint,
                elbow,
                wrist,
                hand,
                body.arm_half,
                body.wrist_half,
                body.hand_length,
            )
        )
    legs = []
    for side in (-1, 1):
        hip = np.array(
            [
                figure_centre(hip_y) + side * (body.hip_half - body.thigh_half),
                body.level("crotch") - 6.0,
            ]
        )
        ankle = np.array([side * (body.leg_gap / 2 + 4.5), body.level("ankle")])
        knee = hip + (ankle - hip) * 0.45
        legs.append(LegBones(side, hip, knee, ankle))
    level_y = np.array([body.level(name) for name in MAP_LEVELS])
    return Figure(
        person=person,
        profile_y=ys,
        profile_half=halves,
        profile_centre=centres,
        level_y=level_y,
        head_centre=head_centre,
        head_axes=(body.head_half, head_half_height),
        arms=(arms[0], arms[1]),
        legs=(legs[0], legs[1]),
        eye_level=float(eye_level),
        distance=float(distance),
    )
