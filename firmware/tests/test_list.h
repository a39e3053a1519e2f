/* Every unit test, in run order. */
#define TEST_LIST(X)                 \
    X(crc16_vectors)                 \
    X(crc32_vectors)                 \
    X(cobs_vectors)                  \
    X(cobs_rejects_invalid)          \
    X(cobs_round_trip_random)        \
    X(schema_matches_vectors)        \
    X(codec_sizes_match_formats)     \
    X(frame_vectors_decode)          \
    X(frame_vectors_encode)          \
    X(reject_vectors)                \
    X(frame_reader_resyncs)          \
    X(frame_reader_random_garbage)   \
    X(arming_transitions)            \
    X(watchdog_expiry)               \
    X(clamp_limits)                  \
    X(spring_damper_force_law)       \
    X(control_force_only_when_armed) \
    X(control_ramp_and_clamp)        \
    X(control_watchdog_latches)      \
    X(control_stale_commands)        \
    X(control_overrun_and_stall)     \
    X(control_velocity_estimate)     \
    X(control_set_params_validates)  \
    X(tick_sync_free_runs)           \
    X(tick_sync_locks_to_commands)   \
    X(tick_sync_skips_missed)        \
    X(app_hello_device_info)         \
    X(app_arm_ack_and_dedup)         \
    X(app_command_applied)           \
    X(app_corrupt_command_ignored)   \
    X(app_watchdog_trips_in_time)    \
    X(app_wrong_version_ignored)     \
    X(app_tx_full_drops_whole_frames)
