include $(sort $(wildcard $(BR2_EXTERNAL_SEGL_PATH)/package/*/*.mk))
