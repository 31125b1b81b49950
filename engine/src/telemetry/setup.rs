//! Car-setup, extended-motion and lobby packet bodies: CarSetups (5), LobbyInfo (9) and MotionEx (13), with EA's
//! field names in snake case.

use serde::Serialize;

use super::reader::Reader;
use super::writer::{Writer, exactly, put};
use super::{DecodeError, EncodeError};

type Result<T> = std::result::Result<T, DecodeError>;
type EncodeResult = std::result::Result<(), EncodeError>;

/// CarSetups packet: the setup of every car (zeroed for other players' cars in online sessions).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CarSetups {
    /// One record per car slot.
    pub car_setup_data: Vec<CarSetupData>,
    /// Front wing value after the next pit stop (player only; 2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_front_wing_value: Option<f32>,
}

/// Setup of one car.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CarSetupData {
    /// Front wing aero.
    pub front_wing: u8,
    /// Rear wing aero.
    pub rear_wing: u8,
    /// Differential on throttle, percent.
    pub on_throttle: u8,
    /// Differential off throttle, percent.
    pub off_throttle: u8,
    /// Front camber, in degrees.
    pub front_camber: f32,
    /// Rear camber, in degrees.
    pub rear_camber: f32,
    /// Front toe, in degrees.
    pub front_toe: f32,
    /// Rear toe, in degrees.
    pub rear_toe: f32,
    /// Front suspension.
    pub front_suspension: u8,
    /// Rear suspension.
    pub rear_suspension: u8,
    /// Front anti-roll bar.
    pub front_anti_roll_bar: u8,
    /// Rear anti-roll bar.
    pub rear_anti_roll_bar: u8,
    /// Front ride height.
    pub front_suspension_height: u8,
    /// Rear ride height.
    pub rear_suspension_height: u8,
    /// Brake pressure, percent.
    pub brake_pressure: u8,
    /// Brake bias, percent.
    pub brake_bias: u8,
    /// Engine braking, percent (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_braking: Option<u8>,
    /// Rear-left tyre pressure, in psi.
    pub rear_left_tyre_pressure: f32,
    /// Rear-right tyre pressure, in psi.
    pub rear_right_tyre_pressure: f32,
    /// Front-left tyre pressure, in psi.
    pub front_left_tyre_pressure: f32,
    /// Front-right tyre pressure, in psi.
    pub front_right_tyre_pressure: f32,
    /// Ballast.
    pub ballast: u8,
    /// Fuel load, in kg.
    pub fuel_load: f32,
}

impl CarSetups {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16, n_cars: usize) -> Result<Self> {
        let since_2024 = format >= 2024;
        let car_setup_data = (0..n_cars)
            .map(|_| {
                Ok(CarSetupData {
                    front_wing: r.get()?,
                    rear_wing: r.get()?,
                    on_throttle: r.get()?,
                    off_throttle: r.get()?,
                    front_camber: r.get()?,
                    rear_camber: r.get()?,
                    front_toe: r.get()?,
                    rear_toe: r.get()?,
                    front_suspension: r.get()?,
                    rear_suspension: r.get()?,
                    front_anti_roll_bar: r.get()?,
                    rear_anti_roll_bar: r.get()?,
                    front_suspension_height: r.get()?,
                    rear_suspension_height: r.get()?,
                    brake_pressure: r.get()?,
                    brake_bias: r.get()?,
                    engine_braking: if since_2024 { Some(r.get()?) } else { None },
                    rear_left_tyre_pressure: r.get()?,
                    rear_right_tyre_pressure: r.get()?,
                    front_left_tyre_pressure: r.get()?,
                    front_right_tyre_pressure: r.get()?,
                    ballast: r.get()?,
                    fuel_load: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        let next_front_wing_value = if since_2024 { Some(r.get()?) } else { None };
        Ok(CarSetups {
            car_setup_data,
            next_front_wing_value,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16, n_cars: usize) -> EncodeResult {
        for c in exactly("car_setup_data", &self.car_setup_data, n_cars)? {
            put!(w, c;
                front_wing, rear_wing, on_throttle, off_throttle, front_camber, rear_camber, front_toe,
                rear_toe, front_suspension, rear_suspension, front_anti_roll_bar, rear_anti_roll_bar,
                front_suspension_height, rear_suspension_height, brake_pressure, brake_bias,
            );
            w.put_since(format, 2024, "engine_braking", &c.engine_braking)?;
            put!(w, c;
                rear_left_tyre_pressure, rear_right_tyre_pressure, front_left_tyre_pressure,
                front_right_tyre_pressure, ballast, fuel_load,
            );
        }
        w.put_since(
            format,
            2024,
            "next_front_wing_value",
            &self.next_front_wing_value,
        )
    }
}

/// LobbyInfo packet: the players in a multiplayer lobby.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LobbyInfo {
    /// Players in the lobby.
    pub num_players: u8,
    /// One record per slot.
    pub lobby_players: Vec<LobbyInfoData>,
}

/// One lobby player.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LobbyInfoData {
    /// 1 AI, 0 human.
    pub ai_controlled: u8,
    /// Team id, 255 none selected.
    pub team_id: u8,
    /// Nationality id.
    pub nationality: u8,
    /// 1 Steam, 3 PlayStation, 4 Xbox, 6 Origin, 255 unknown.
    pub platform: u8,
    /// Name, UTF-8 (48 bytes before 2025, 32 from 2025).
    pub name: String,
    /// Car number.
    pub car_number: u8,
    /// 0 restricted, 1 public (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub your_telemetry: Option<u8>,
    /// 0 off, 1 on (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_online_names: Option<u8>,
    /// F1 World tech level (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tech_level: Option<u16>,
    /// 0 not ready, 1 ready, 2 spectating.
    pub ready_status: u8,
}

impl LobbyInfo {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16, n_cars: usize) -> Result<Self> {
        let num_players = r.get()?;
        let since_2024 = format >= 2024;
        let name_len = if format >= 2025 { 32 } else { 48 };
        let lobby_players = (0..n_cars)
            .map(|_| {
                Ok(LobbyInfoData {
                    ai_controlled: r.get()?,
                    team_id: r.get()?,
                    nationality: r.get()?,
                    platform: r.get()?,
                    name: r.string(name_len)?,
                    car_number: r.get()?,
                    your_telemetry: if since_2024 { Some(r.get()?) } else { None },
                    show_online_names: if since_2024 { Some(r.get()?) } else { None },
                    tech_level: if since_2024 { Some(r.get()?) } else { None },
                    ready_status: r.get()?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(LobbyInfo {
            num_players,
            lobby_players,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16, n_cars: usize) -> EncodeResult {
        put!(w, self; num_players);
        let name_len = if format >= 2025 { 32 } else { 48 };
        for p in exactly("lobby_players", &self.lobby_players, n_cars)? {
            put!(w, p; ai_controlled, team_id, nationality, platform);
            w.string(&p.name, name_len);
            put!(w, p; car_number);
            w.put_since(format, 2024, "your_telemetry", &p.your_telemetry)?;
            w.put_since(format, 2024, "show_online_names", &p.show_online_names)?;
            w.put_since(format, 2024, "tech_level", &p.tech_level)?;
            put!(w, p; ready_status);
        }
        Ok(())
    }
}

/// MotionEx packet: extended physics of the player's car. Wheel arrays are RL, RR, FL, FR.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MotionEx {
    /// Suspension position.
    pub suspension_position: [f32; 4],
    /// Suspension velocity.
    pub suspension_velocity: [f32; 4],
    /// Suspension acceleration.
    pub suspension_acceleration: [f32; 4],
    /// Wheel speed.
    pub wheel_speed: [f32; 4],
    /// Wheel slip ratio.
    pub wheel_slip_ratio: [f32; 4],
    /// Wheel slip angle.
    pub wheel_slip_angle: [f32; 4],
    /// Lateral force at each wheel.
    pub wheel_lat_force: [f32; 4],
    /// Longitudinal force at each wheel.
    pub wheel_long_force: [f32; 4],
    /// Height of the centre of gravity above ground.
    pub height_of_cog_above_ground: f32,
    /// Velocity in local space, X, in m/s.
    pub local_velocity_x: f32,
    /// Velocity in local space, Y, in m/s.
    pub local_velocity_y: f32,
    /// Velocity in local space, Z, in m/s.
    pub local_velocity_z: f32,
    /// Angular velocity X, in rad/s.
    pub angular_velocity_x: f32,
    /// Angular velocity Y, in rad/s.
    pub angular_velocity_y: f32,
    /// Angular velocity Z, in rad/s.
    pub angular_velocity_z: f32,
    /// Angular acceleration X, in rad/s².
    pub angular_acceleration_x: f32,
    /// Angular acceleration Y, in rad/s².
    pub angular_acceleration_y: f32,
    /// Angular acceleration Z, in rad/s².
    pub angular_acceleration_z: f32,
    /// Front wheels angle, in radians.
    pub front_wheels_angle: f32,
    /// Vertical force at each wheel.
    pub wheel_vert_force: [f32; 4],
    /// Front plank height above the road (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_aero_height: Option<f32>,
    /// Rear plank height above the road (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rear_aero_height: Option<f32>,
    /// Front roll angle (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_roll_angle: Option<f32>,
    /// Rear roll angle (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rear_roll_angle: Option<f32>,
    /// Chassis yaw relative to the direction of motion, in radians (2024 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis_yaw: Option<f32>,
    /// Chassis pitch relative to the direction of motion, in radians (2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis_pitch: Option<f32>,
    /// Camber of each wheel, in radians (2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wheel_camber: Option<[f32; 4]>,
    /// Camber gain of each wheel, in radians (2025 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wheel_camber_gain: Option<[f32; 4]>,
}

impl MotionEx {
    pub(crate) fn read(r: &mut Reader<'_>, format: u16) -> Result<Self> {
        let (since_2024, since_2025) = (format >= 2024, format >= 2025);
        Ok(MotionEx {
            suspension_position: r.get()?,
            suspension_velocity: r.get()?,
            suspension_acceleration: r.get()?,
            wheel_speed: r.get()?,
            wheel_slip_ratio: r.get()?,
            wheel_slip_angle: r.get()?,
            wheel_lat_force: r.get()?,
            wheel_long_force: r.get()?,
            height_of_cog_above_ground: r.get()?,
            local_velocity_x: r.get()?,
            local_velocity_y: r.get()?,
            local_velocity_z: r.get()?,
            angular_velocity_x: r.get()?,
            angular_velocity_y: r.get()?,
            angular_velocity_z: r.get()?,
            angular_acceleration_x: r.get()?,
            angular_acceleration_y: r.get()?,
            angular_acceleration_z: r.get()?,
            front_wheels_angle: r.get()?,
            wheel_vert_force: r.get()?,
            front_aero_height: if since_2024 { Some(r.get()?) } else { None },
            rear_aero_height: if since_2024 { Some(r.get()?) } else { None },
            front_roll_angle: if since_2024 { Some(r.get()?) } else { None },
            rear_roll_angle: if since_2024 { Some(r.get()?) } else { None },
            chassis_yaw: if since_2024 { Some(r.get()?) } else { None },
            chassis_pitch: if since_2025 { Some(r.get()?) } else { None },
            wheel_camber: if since_2025 { Some(r.get()?) } else { None },
            wheel_camber_gain: if since_2025 { Some(r.get()?) } else { None },
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, format: u16) -> EncodeResult {
        put!(w, self;
            suspension_position, suspension_velocity, suspension_acceleration, wheel_speed, wheel_slip_ratio,
            wheel_slip_angle, wheel_lat_force, wheel_long_force, height_of_cog_above_ground, local_velocity_x,
            local_velocity_y, local_velocity_z, angular_velocity_x, angular_velocity_y, angular_velocity_z,
            angular_acceleration_x, angular_acceleration_y, angular_acceleration_z, front_wheels_angle,
            wheel_vert_force,
        );
        w.put_since(format, 2024, "front_aero_height", &self.front_aero_height)?;
        w.put_since(format, 2024, "rear_aero_height", &self.rear_aero_height)?;
        w.put_since(format, 2024, "front_roll_angle", &self.front_roll_angle)?;
        w.put_since(format, 2024, "rear_roll_angle", &self.rear_roll_angle)?;
        w.put_since(format, 2024, "chassis_yaw", &self.chassis_yaw)?;
        w.put_since(format, 2025, "chassis_pitch", &self.chassis_pitch)?;
        w.put_since(format, 2025, "wheel_camber", &self.wheel_camber)?;
        w.put_since(format, 2025, "wheel_camber_gain", &self.wheel_camber_gain)
    }
}
