"""narae.profiler: where the time goes, op by op (torch.profiler's API).

    from narae.profiler import profile, record_function
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            loss = model(x).sum()
            loss.backward()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
"""
from .profiler import (profile, record_function, schedule, tensorboard_trace_handler,  # noqa
                       ProfilerAction, ProfilerActivity, supported_activities)
from .events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401

__all__ = ["profile", "record_function", "schedule", "tensorboard_trace_handler",
           "ProfilerAction", "ProfilerActivity", "supported_activities", "EventList",
           "FunctionEvent", "FunctionEventAvg"]
